"""The ``jobs`` queue consumer: one record at a time, per-record failures reported."""

from __future__ import annotations

from typing import Any

from chalicelib import bootstrap, jobs
from chalicelib.handlers.sqs import process_batch
from chalicelib.observability import logger


def _handle_record(record) -> None:
    try:
        bootstrap.jobs()  # the job table's modules, once per container
        jobs.run(record.body)
    except Exception:
        logger.exception("job failed", extra={"message_id": record.message_id,
                                              "receive_count": record.attributes.approximate_receive_count})
        raise


def process_jobs(event) -> dict[str, Any]:
    """SQS batch → ``{"batchItemFailures": [...]}``."""
    return process_batch(event, _handle_record)
