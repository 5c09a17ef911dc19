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
