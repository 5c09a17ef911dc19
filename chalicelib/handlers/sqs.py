"""What every SQS consumer shares: Powertools' BatchProcessor over a Chalice SQS event."""

from __future__ import annotations

from typing import Any


def process_batch(event, record_handler) -> dict[str, Any]:
    """Run ``record_handler`` per record → ``{"batchItemFailures": [...]}`` (needs
    ReportBatchItemFailures on the event source mapping): a failing record is retried alone."""
    # Imported here: only SQS consumers need the batch utility (cold-start budget of the API).
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return process_partial_response(event=event.to_dict(), record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=event.context)
