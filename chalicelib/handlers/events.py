"""The earn pipeline's entry points: the ``events`` queue consumer and the sweeper schedule.
Thin: parse the record, call the service, publish what happened, report per-record failures."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from chalicelib import bootstrap, queues
from chalicelib.bus import publisher
from chalicelib.handlers.sqs import poison
from chalicelib.jobs import PoisonMessage
from chalicelib.observability import logger
from chalicelib.resources import EVENTS


def _event_id(body: str) -> str:
    try:
        message = json.loads(body)
    except ValueError as e:
        raise PoisonMessage(f"body is not JSON: {e}") from e
    if not isinstance(message, dict) or not isinstance(message.get("event_id"), str) or not message["event_id"]:
        raise PoisonMessage('body must be {"event_id": "..."}')
    return message["event_id"]


def retry_delay(attempt: int) -> int:
    """Seconds before the next try after ``attempt`` failed ones: 10, 20, 40... up to 5 minutes,
    with jitter so that events that failed together do not retry together."""
    base = min(300, 10 * 2 ** max(0, attempt - 1))
    return base // 2 + random.randint(0, base // 2)  # noqa: S311 (jitter, not secrets)


class _Unsent(Exception):
    """The event's domain event could not be published: the event is retried (transient), not recorded."""


def _settle(record, event_id: str, error: Exception) -> bool:
    """An event's run failed: settle or back off. True if the message goes back to the queue."""
    if isinstance(error, PoisonMessage):
        poison("events", record, error)
        return False
    attempt = int(record.attributes.approximate_receive_count or 1)
    final = attempt >= EVENTS.max_receive_count
    settled = bootstrap.events().settle_failure(event_id, error, datetime.now(UTC), attempts=attempt, final=final)
    logger.error("event failed", exc_info=error, extra={
        "message_id": record.message_id, "event_id": event_id, "reason": str(error)[:500], "receive_count": attempt,
        "settled": settled})
    if settled == "rejected":
        return False  # no retry can succeed: the event says why, and the message is done
    if not final:
        try:
            queues.retry_later("events", record.receipt_handle, retry_delay(attempt))
        except Exception:  # the queue's own visibility timeout applies instead
            logger.exception("backoff not set", extra={"message_id": record.message_id})
    return True  # on the last receive SQS moves it to the dead-letter queue, and the event shows failed


def _process_events(records) -> list[str]:
    """Run every event of the batch, publish their domain events (ten per call), then record
    each: the ids of the messages to retry."""
    service, retry, ran, ids = bootstrap.events(), [], [], {}
    for record in records:
        try:
            ids[record.message_id] = _event_id(record.body)
        except PoisonMessage as e:
            poison("events", record, e)
    try:
        items = service.load(list(ids.values()))
    except Exception:  # read one by one below instead
        logger.exception("batch read of the events failed")
        items = {}
    pending = [item for item in items.values() if item.status in ("accepted", "failed")]
    with service.reads_for_batch(pending):
        for record in records:
            event_id = ids.get(record.message_id)
            if event_id is None:
                continue
            try:
                processed = service.run(event_id, datetime.now(UTC), items.get(event_id))
                if processed is None:
                    raise PoisonMessage(f"no event {event_id}")
                ran.append((record, event_id, processed))
            except Exception as e:
                if _settle(record, event_id, e):
                    retry.append(record.message_id)
    unsent = publisher.publish_all({record.message_id: processed.published
                                    for record, _, processed in ran if processed.published})
    for record, event_id, processed in ran:
        try:
            if record.message_id in unsent:
                raise _Unsent(unsent[record.message_id])
            service.record(processed, datetime.now(UTC))
        except Exception as e:
            if _settle(record, event_id, e):
                retry.append(record.message_id)
    return retry


def process_events(event) -> dict[str, Any]:
    """SQS batch of accepted events → ``{"batchItemFailures": [...]}`` (ReportBatchItemFailures):
    one failure never fails its batch-mates."""
    from aws_lambda_powertools.utilities.data_classes import SQSEvent

    retry = _process_events(list(SQSEvent(event.to_dict()).records))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in retry]}


def sweep_events(event) -> None:
    """Every few minutes: re-enqueue events accepted but still unprocessed (lost sends)."""
    sent = bootstrap.events().sweep(datetime.now(UTC))
    if sent:
        logger.warning("unprocessed events re-enqueued", extra={"events": sent})
