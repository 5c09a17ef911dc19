"""Every message of every queue (visible, in flight, delayed, dead-lettered) as data, and back.

moto holds SQS in memory; :mod:`devstack.durable` writes these snapshots to disk as the queues
change and restores them on start. moto runs in this process, so the snapshot reads its
backend directly, with receive counts and remaining delays the API cannot see.
"""

from __future__ import annotations

import math
import time
from typing import Any

from devstack.environment import ACCOUNT_ID, REGION


def _backend():
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT_ID][REGION]


def snapshot() -> list[dict[str, Any]]:
    now_ms = time.time() * 1000
    saved = []
    for name, queue in list(_backend().queues.items()):
        for message in list(queue._messages):
            saved.append({
                "queue": name,
                "message_id": message.id,
                "body": message.body,
                "message_attributes": message.message_attributes,
                "receive_count": message.approximate_receive_count,
                "delay_ms": max(0, message.delayed_until - now_ms),
                "group_id": message.group_id,
                "deduplication_id": message.deduplication_id,
            })
    return saved


def restore(saved: list[dict[str, Any]]) -> int:
    backend = _backend()
    restored = 0
    for item in saved:
        if item["queue"] not in backend.queues:
            continue  # a queue that no longer exists in the definitions
        message = backend.send_message(
            item["queue"], item["body"], message_attributes=item["message_attributes"] or None,
            delay_seconds=min(900, math.ceil(item["delay_ms"] / 1000)),
            deduplication_id=item["deduplication_id"], group_id=item["group_id"])
        message.approximate_receive_count = item["receive_count"]  # keep the retry budget
        restored += 1
    return restored
