"""Calling the app's event handlers exactly as Lambda would: same function, same event shape."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devstack.environment import ACCOUNT_ID, REGION


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, timeout_s: int = 30, memory_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class EventHandler:
    """One registered event source of the app and the module attribute Lambda would call."""

    name: str
    kind: str  # "sqs" or "schedule"
    handler: Callable[[dict, Any], Any]
    queue: str | None = None
    batch_size: int = 10
    batching_window: int = 0  # seconds a poller may gather messages before it calls the handler
    schedule: str | None = None


def resolve(handler_string: str) -> Callable[[dict, Any], Any]:
    module_name, _, attribute = handler_string.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def event_handlers(chalice_app) -> list[EventHandler]:
    """The SQS and schedule handlers the app registers, resolved like Lambda resolves them."""
    found = []
    for source in chalice_app.event_sources:
        kind = type(source).__name__
        if kind == "SQSEventConfig":
            found.append(EventHandler(source.name, "sqs", resolve(source.handler_string),
                                      queue=source.queue, batch_size=source.batch_size,
                                      batching_window=source.maximum_batching_window_in_seconds))
        elif kind == "ScheduledEventConfig":
            expression = source.schedule_expression
            if not isinstance(expression, str):
                expression = expression.to_string()
            found.append(EventHandler(source.name, "schedule", resolve(source.handler_string),
                                      schedule=expression))
    return found


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    converted = {}
    for name, value in (attributes or {}).items():
        converted[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
    return converted


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Lambda's SQS event for messages as ReceiveMessage returned them."""
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": _message_attributes(m.get("MessageAttributes", {})),
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    } for m in messages]}


def scheduled_event(rule_name: str, at: datetime | None = None) -> dict[str, Any]:
    """EventBridge's "Scheduled Event" for a rule."""
    at = at or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }
