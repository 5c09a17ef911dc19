"""Delivering domain events to a consumer as its queue's Lambda function receives them: each
event in EventBridge's envelope, a batch of them in Lambda's SQS event, through the consumer's
own handler (chalicelib.handlers.consumers)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from chalice.app import SQSEvent

from chalicelib import bootstrap, resources
from chalicelib.bus import catalogue
from chalicelib.handlers import consumers
from devstack.lambda_runtime import sqs_event


def typed(message: dict[str, Any]) -> catalogue.DomainEvent:
    """The domain event of a wire form written without its version (1)."""
    return catalogue.from_json({"version": 1, **message})


def envelope(event: catalogue.DomainEvent | dict[str, Any]) -> str:
    """The SQS body EventBridge delivers for a published event (or for any ``detail``)."""
    detail = event.to_json() if isinstance(event, catalogue.DomainEvent) else event
    return json.dumps({"version": "0", "id": str(uuid.uuid4()), "detail-type": detail.get("type"),
                       "source": resources.DOMAIN_BUS.source, "account": "123456789012",
                       "time": "2026-12-04T00:00:00Z", "region": "us-east-1", "resources": [], "detail": detail})


def spec(name: str) -> resources.ConsumerSpec:
    return next(s for s in resources.CONSUMERS if s.name == name)


def deliver(name: str, events: list[catalogue.DomainEvent | str], consumer=None) -> list[str]:
    """One SQS batch of ``events`` (or raw bodies) through consumer ``name``'s handler; returns
    the message ids it asked to retry (``batchItemFailures``)."""
    messages = [{"MessageId": f"msg-{i}-{uuid.uuid4().hex[:6]}", "ReceiptHandle": f"r{i}",
                 "Body": e if isinstance(e, str) else envelope(e), "Attributes": {"ApproximateReceiveCount": "1"}}
                for i, e in enumerate(events)]
    event = SQSEvent(sqs_event(messages, f"arn:aws:sqs:us-east-1:123456789012:{spec(name).queue.name}"), None)
    reply = consumers.consume(spec(name), consumer or bootstrap.consumer(name), event)
    return [failure["itemIdentifier"] for failure in reply["batchItemFailures"]]
