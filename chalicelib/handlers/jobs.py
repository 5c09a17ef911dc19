"""The ``jobs`` queue consumer: one record at a time, per-record failures reported."""

from __future__ import annotations

from typing import Any

from chalicelib import jobs
from chalicelib.ledger import jobs as _ledger_jobs  # noqa: F401  (registers the expiry jobs)
from chalicelib.observability import logger
from chalicelib.ops import service as _ops  # noqa: F401  (registers the canary jobs)


def _handle_record(record) -> None:
    try:
        jobs.run(record.body)
    except Exception:
        logger.exception("job failed", extra={"message_id": record.message_id,
                                              "receive_count": record.attributes.approximate_receive_count})
        raise


def process_jobs(event) -> dict[str, Any]:
    """SQS batch → ``{"batchItemFailures": [...]}`` (needs ReportBatchItemFailures on)."""
    # Imported here: the batch utility is only needed by this function (cold-start budget).
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return process_partial_response(event=event.to_dict(), record_handler=_handle_record,
                                    processor=BatchProcessor(event_type=EventType.SQS),
                                    context=event.context)
