"""Drains an SQS queue into its Lambda handler, with Lambda's event-source semantics.

Several batches at once per queue (each poller one; Lambda starts with five), each in one of
the handler's containers (:mod:`devstack.containers`). Batches of up to ``batch_size``,
gathered for up to the handler's batching window (``MaximumBatchingWindowInSeconds``); a
handler that raises fails the whole batch; a reply with ``batchItemFailures`` fails just those
records (as with ReportBatchItemFailures on); failed messages are left alone, so they come
back after the queue's visibility timeout and, after ``maxReceiveCount`` receives, SQS's
redrive policy moves them to the dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from chalicelib import aws
from devstack import containers
from devstack.lambda_runtime import EventHandler, sqs_event

log = logging.getLogger("devstack.sqs")

# How long a receive waits for messages: 20 s, as Lambda's pollers (SQS's maximum). moto answers
# a long poll as soon as a message arrives, so nothing waits longer, and idle pollers cost a
# request every 20 s instead of every second. Once set aside: a full load run left four events
# unprocessed; moto's receives were not safe under concurrent pollers then (one message to two
# pollers, failed receives: devstack.moto_server.safer_sqs). With that fixed the same run lost
# none (BENCHMARKS.md, 2026-12-07, third session).
WAIT_SECONDS = 20


def failed_ids(reply: Any, batch: list[dict[str, Any]]) -> set[str]:
    """Message ids Lambda would return to the queue for this handler reply."""
    all_ids = {m["MessageId"] for m in batch}
    if not isinstance(reply, dict) or "batchItemFailures" not in reply:
        return set()
    failures = reply["batchItemFailures"] or []
    ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in all_ids:
            return all_ids  # Lambda treats a malformed reply as a failure of the whole batch
        ids.add(identifier)
    return ids


class QueuePoller(threading.Thread):
    def __init__(self, handler: EventHandler, queue_url: str, queue_arn: str, stop: threading.Event,
                 pool: containers.Pool, wait_seconds: int = WAIT_SECONDS, index: int = 0) -> None:
        super().__init__(name=f"sqs:{handler.name}:{index}", daemon=True)
        self.handler, self.queue_url, self.queue_arn, self.pool = handler, queue_url, queue_arn, pool
        self.stop_event, self.wait_seconds = stop, wait_seconds
        self.invocations = 0
        # A batch received and being handled: a stop waits for it. A poller still waiting on
        # the queue is not waited for: once its receive returns it sees the stop and hands
        # nothing to the (stopping) containers.
        self.delivering = False

    def run(self) -> None:
        sqs = aws.client("sqs")
        while not self.stop_event.is_set():
            try:
                batch = sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, self.handler.batch_size),
                    WaitTimeSeconds=self.wait_seconds, AttributeNames=["All"],
                    MessageAttributeNames=["All"]).get("Messages", [])
            except Exception:
                if self.stop_event.is_set():
                    return
                log.exception("receive failed on %s", self.queue_url)
                self.stop_event.wait(1)
                continue
            if not batch:
                continue
            self.delivering = True  # before the stop check: a stop that finds it False sees us return
            try:
                if self.stop_event.is_set():
                    return  # stopping: the batch goes back to the queue after its visibility timeout
                self.deliver(sqs, self.gather(sqs, batch))
            finally:
                self.delivering = False

    def gather(self, sqs, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Lambda's batching window: from the first message, keep receiving until the batch is
        full or the handler's ``batching_window`` has passed (a receive that waits for a message
        may end up to a second after it, never later)."""
        window = self.handler.batching_window
        deadline = time.monotonic() + window
        while window and len(batch) < self.handler.batch_size and time.monotonic() < deadline:
            if self.stop_event.is_set():
                break
            try:
                batch += sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, self.handler.batch_size - len(batch)),
                    WaitTimeSeconds=1, AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            except Exception:
                log.exception("receive failed on %s; delivering the %d gathered", self.queue_url, len(batch))
                break
        return batch

    def deliver(self, sqs, batch: list[dict[str, Any]]) -> set[str]:
        """Invoke the handler once for ``batch``; delete what succeeded; return failed ids."""
        self.invocations += 1
        try:
            reply = self.pool.call(containers.invoke, self.handler.name, sqs_event(batch, self.queue_arn))
            failed = failed_ids(reply, batch)
        except Exception:
            log.exception("handler %s failed its batch of %d", self.handler.name, len(batch))
            failed = {m["MessageId"] for m in batch}
        done = [m for m in batch if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        if failed:
            log.warning("%s: %d of %d messages failed; they return after the visibility timeout",
                        self.handler.name, len(failed), len(batch))
        return failed
