"""Sending to this deployment's SQS queues (by logical name)."""

from __future__ import annotations

import functools
import json
from typing import Any

from chalicelib import aws, config


@functools.cache
def _queue_url(name: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def queue_url(logical: str) -> str:
    return _queue_url(config.queue_name(logical))


def send(logical: str, body: dict[str, Any], *, delay_seconds: int = 0) -> str:
    """Put one JSON message on a queue; returns its message id."""
    reply = aws.client("sqs").send_message(
        QueueUrl=queue_url(logical), MessageBody=json.dumps(body, separators=(",", ":")),
        DelaySeconds=delay_seconds)
    return reply["MessageId"]


def send_batch(logical: str, bodies: list[dict[str, Any]]) -> None:
    """Put up to 10 JSON messages on a queue in one call; raises if any was not sent."""
    unsent = send_all(logical, {str(i): body for i, body in enumerate(bodies)})
    if unsent:
        raise RuntimeError(f"{len(unsent)} of {len(bodies)} messages not sent: {next(iter(unsent.values()))}")


def send_all(logical: str, bodies: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Put many JSON messages on a queue, ten per call: ``{key: body}`` → ``{key: why}`` for
    those not sent (a call that fails leaves its ten unsent; the others go on)."""
    unsent: dict[str, str] = {}
    keys = list(bodies)
    for start in range(0, len(keys), 10):
        chunk = keys[start:start + 10]
        try:
            reply = aws.client("sqs").send_message_batch(QueueUrl=queue_url(logical), Entries=[
                {"Id": str(i), "MessageBody": json.dumps(bodies[key], separators=(",", ":"))}
                for i, key in enumerate(chunk)])
        except Exception as e:  # reported per message: the caller retries them
            unsent.update({key: f"{type(e).__name__}: {e}"[:500] for key in chunk})
            continue
        for failure in reply.get("Failed", []):
            unsent[chunk[int(failure["Id"])]] = f"{failure.get('Code')}: {failure.get('Message')}"[:500]
    return unsent


def dead_letter(logical: str, body: str, reason: str, message_id: str) -> None:
    """Put a message no retry can fix straight on ``logical``'s dead-letter queue, with why, so
    it neither waits out its retries nor loses its reason (inspect and redrive it from there)."""
    aws.client("sqs").send_message(
        QueueUrl=queue_url(f"{logical}-dlq"), MessageBody=body,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000] or "poison"},
                           "source_message_id": {"DataType": "String", "StringValue": message_id}})


def retry_later(logical: str, receipt_handle: str, seconds: int) -> None:
    """Hide a message that failed for ``seconds`` before its next try (backoff): SQS would
    otherwise redeliver it after the queue's whole visibility timeout, however transient the cause."""
    aws.client("sqs").change_message_visibility(QueueUrl=queue_url(logical), ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=max(0, min(seconds, 12 * 3600)))
