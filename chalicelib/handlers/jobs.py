"""The ``jobs`` queue consumer: one record at a time, per-record failures reported."""

from __future__ import annotations

from typing import Any

from chalicelib import jobs
from chalicelib.handlers.sqs import process_batch
from chalicelib.ledger import jobs as _ledger_jobs  # noqa: F401  (registers the expiry jobs)
from chalicelib.observability import logger
from chalicelib.ops import service as _ops  # noqa: F401  (registers the canary jobs)
from chalicelib.tiers import service as _tier_jobs  # noqa: F401  (registers the tier review)


def _handle_record(record) -> None:
    try:
        jobs.run(record.body)
    except Exception:
        logger.exception("job failed", extra={"message_id": record.message_id,
                                              "receive_count": record.attributes.approximate_receive_count})
        raise


def process_jobs(event) -> dict[str, Any]:
    """SQS batch → ``{"batchItemFailures": [...]}``."""
    return process_batch(event, _handle_record)
