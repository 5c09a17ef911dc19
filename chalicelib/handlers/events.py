"""The earn pipeline's entry points: the ``events`` and ``notifications`` queue consumers and
the sweeper schedule. Thin: parse the record, call the service, report per-record failures."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from chalicelib.handlers.sqs import process_batch
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


def _poison(queue: str, record, error: PoisonMessage) -> None:
    """A message no retry can fix goes to the dead-letter queue at once, with its reason."""
    from chalicelib import queues

    logger.error("poison message", extra={"queue": queue, "message_id": record.message_id, "reason": str(error)})
    queues.dead_letter(queue, record.body, str(error), record.message_id)


def retry_delay(attempt: int) -> int:
    """Seconds before the next try after ``attempt`` failed ones: 10, 20, 40... up to 5 minutes,
    with jitter so that events that failed together do not retry together."""
    base = min(300, 10 * 2 ** max(0, attempt - 1))
    return base // 2 + random.randint(0, base // 2)  # noqa: S311 (jitter, not secrets)


def _process_event(record) -> None:
    from chalicelib.events import service

    try:
        event_id = _event_id(record.body)
    except PoisonMessage as e:
        _poison("events", record, e)
        return
    try:
        if service.process(event_id, datetime.now(UTC)) is None:
            raise PoisonMessage(f"no event {event_id}")
    except PoisonMessage as e:
        _poison("events", record, e)
    except Exception as e:
        attempt = int(record.attributes.approximate_receive_count or 1)
        final = attempt >= EVENTS.max_receive_count
        settled = service.settle_failure(event_id, e, datetime.now(UTC), attempts=attempt, final=final)
        logger.error("event failed", exc_info=True, extra={
            "message_id": record.message_id, "event_id": event_id, "reason": str(e)[:500], "receive_count": attempt,
            "settled": settled})
        if settled == "rejected":
            return  # no retry can succeed: the event says why, and the message is done
        if not final:
            from chalicelib import queues

            try:
                queues.retry_later("events", record.receipt_handle, retry_delay(attempt))
            except Exception:  # the queue's own visibility timeout applies instead
                logger.exception("backoff not set", extra={"message_id": record.message_id})
        raise  # the last receive: SQS moves it to the dead-letter queue, the event shows failed


def _process_notification(record) -> None:
    from chalicelib.notify import dispatch

    try:
        dispatch.dispatch(record.body)
    except PoisonMessage as e:
        _poison("notifications", record, e)
    except Exception as e:
        logger.exception("notification failed", extra={"message_id": record.message_id, "reason": str(e)[:500]})
        raise


def process_events(event) -> dict[str, Any]:
    """SQS batch of accepted events → ``{"batchItemFailures": [...]}``: one failure never fails
    its batch-mates."""
    return process_batch(event, _process_event)


def process_notifications(event) -> dict[str, Any]:
    return process_batch(event, _process_notification)


def sweep_events(event) -> None:
    """Every few minutes: re-enqueue events accepted but still unprocessed (lost sends)."""
    from chalicelib.events import service

    sent = service.sweep(datetime.now(UTC))
    if sent:
        logger.warning("unprocessed events re-enqueued", extra={"events": sent})
