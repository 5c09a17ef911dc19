"""What every SQS consumer shares: Powertools' BatchProcessor over a Chalice SQS event, and
poison straight to the dead-letter queue."""

from __future__ import annotations

from typing import Any

from chalicelib import queues
from chalicelib.jobs import PoisonMessage
from chalicelib.observability import logger


def process_batch(event, record_handler) -> dict[str, Any]:
    """Run ``record_handler`` per record → ``{"batchItemFailures": [...]}`` (needs
    ReportBatchItemFailures on the event source mapping): a failing record is retried alone."""
    # Imported here: only SQS consumers need the batch utility (cold-start budget of the API).
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return process_partial_response(event=event.to_dict(), record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=event.context)


def poison(queue: str, record, error: PoisonMessage) -> None:
    """A message no retry can fix goes to ``queue``'s dead-letter queue at once, with its reason."""
    logger.error("poison message", extra={"queue": queue, "message_id": record.message_id, "reason": str(error)})
    queues.dead_letter(queue, record.body, str(error), record.message_id)
