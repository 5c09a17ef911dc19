"""The earn pipeline's entry points: the ``events`` and ``notifications`` queue consumers and
the sweeper schedule. Thin: parse the record, call the service, report per-record failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.handlers.sqs import process_batch
from chalicelib.jobs import PoisonMessage
from chalicelib.observability import logger


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


def _process_event(record) -> None:
    from chalicelib.events import service

    try:
        event_id = _event_id(record.body)
        if service.process(event_id, datetime.now(UTC)) is None:
            raise PoisonMessage(f"no event {event_id}")
    except PoisonMessage as e:
        _poison("events", record, e)
    except Exception as e:
        # retried by SQS; after maxReceiveCount it rests in the dead-letter queue, its reason
        # logged here next to its message id
        logger.exception("event failed", extra={"message_id": record.message_id, "reason": str(e)[:500],
                                                "receive_count": record.attributes.approximate_receive_count})
        raise


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
