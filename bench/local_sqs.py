"""moto's SQS under a backlog: milliseconds per send + receive + delete of ten messages.

The local stack's queues are moto's, in the stack's own process. moto 5.2 does work in
proportion to a queue's length for every message sent or received;
``devstack.moto_server.faster_sqs`` takes it back to (nearly) constant. This measures both,
side by side, on one in-process moto server: a queue holding ``backlog`` messages in flight
(received, not yet deleted, as a busy consumer holds them), then 50 rounds of
SendMessageBatch(10) + ReceiveMessage(10) + DeleteMessageBatch(10).

Usage: ``.venv/bin/python bench/local_sqs.py``
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUNDS = 50
BACKLOGS = (0, 200, 800)


def entries() -> list[dict[str, str]]:
    return [{"Id": str(i), "MessageBody": "{}"} for i in range(10)]


def measure(sqs, name: str) -> list[float]:
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    figures, in_flight = [], 0
    for backlog in BACKLOGS:
        while in_flight < backlog:  # sent and received, not deleted: in flight for ten minutes
            sqs.send_message_batch(QueueUrl=url, Entries=entries())
            in_flight += len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
        started = time.perf_counter()
        for _ in range(ROUNDS):
            sqs.send_message_batch(QueueUrl=url, Entries=entries())
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        figures.append((time.perf_counter() - started) / ROUNDS * 1000)
    return figures


def main() -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")
    import boto3
    from moto.sqs import models

    from devstack import moto_server

    server = moto_server.MotoServer(0)
    original = (models.unix_time, models.unix_time_millis,
                models.SQSBackend.is_message_valid_based_on_retention_period)
    server.start()  # applies faster_sqs
    try:
        sqs = boto3.client("sqs", endpoint_url=server.endpoint, region_name="us-east-1")
        patched = (models.unix_time, models.unix_time_millis,
                   models.SQSBackend.is_message_valid_based_on_retention_period)
        (models.unix_time, models.unix_time_millis,
         models.SQSBackend.is_message_valid_based_on_retention_period) = original
        as_shipped = measure(sqs, "as-shipped")
        (models.unix_time, models.unix_time_millis,
         models.SQSBackend.is_message_valid_based_on_retention_period) = patched
        faster = measure(sqs, "faster")
    finally:
        server.stop()
    print(f"ms per SendMessageBatch(10) + ReceiveMessage(10) + DeleteMessageBatch(10), {ROUNDS} rounds")
    print(f"{'in flight':>10} {'moto 5.2':>10} {'faster_sqs':>11} {'ratio':>7}")
    for backlog, slow, fast in zip(BACKLOGS, as_shipped, faster, strict=False):
        print(f"{backlog:>10} {slow:>10.1f} {fast:>11.1f} {slow / fast:>6.1f}x")


if __name__ == "__main__":
    main()
