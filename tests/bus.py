"""Delivering domain events to a consumer as its queue's Lambda function receives them: each
event in EventBridge's envelope, a batch of them in Lambda's SQS event, through the consumer's
own handler (chalicelib.handlers.consumers)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from chalice.app import SQSEvent

from chalicelib import aws, bootstrap, resources
from chalicelib.bus import catalogue
from chalicelib.bus.consumer import Consumer
from chalicelib.handlers import consumers
from devstack.lambda_runtime import sqs_event
from devstack.sqs_poller import failed_ids


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


def waiting(url: str) -> int:
    """Messages in a queue, visible or in flight."""
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def poll(spec: resources.ConsumerSpec, consumer: Consumer, url: str, arn: str) -> tuple[int, set[str]]:
    """One receive and one invocation, as Lambda's event source mapping: (received, failed ids)."""
    sqs = aws.client("sqs")
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                AttributeNames=["All"]).get("Messages", [])
    if not batch:
        return 0, set()
    try:
        failed = failed_ids(consumers.consume(spec, consumer, SQSEvent(sqs_event(batch, arn), None)), batch)
    except Exception:  # every record failed (Powertools raises): Lambda returns the whole batch
        failed = {m["MessageId"] for m in batch}
    done = [m for m in batch if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(done)])
    return len(batch), failed


def run_inbox(name: str) -> int:
    """Run consumer ``name`` over everything in its queue, as its function would (the bus put
    there what producers published): returns how many messages it took. Fails on a failure."""
    sqs, queue = aws.client("sqs"), spec(name).queue
    url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    taken = 0
    while True:
        received, failed = poll(spec(name), bootstrap.consumer(name), url, arn)
        assert not failed, f"the {name} consumer failed on {failed}"
        if not received:
            return taken
        taken += received


def purge_inbox(name: str) -> None:
    """Empty consumer ``name``'s queue (what other tests published, nobody drains) by receiving
    and deleting: SQS allows one PurgeQueue a minute."""
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=spec(name).queue.name)["QueueUrl"]
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])
