"""What a refused or contended DynamoDB write means, for every store that retries one:
refused for good (:class:`WriteRefused`, reported at once), or contended (retried after a
jittered pause, then :class:`Contention`)."""

from __future__ import annotations

import random
import time

from pynamodb.exceptions import PutError, TransactWriteError

from chalicelib import errors

ATTEMPTS = 64  # transaction conflicts a contended write sits out before its caller is told


class Contention(errors.Conflict):
    code = "concurrent_update"
    retryable = True


class WriteRefused(errors.ValidationFailed):
    """DynamoDB refused the write itself (an item too large, a number it cannot hold): no
    retry can succeed, so it is reported at once rather than retried as contention."""

    code = "write_refused"


_RETRYABLE = {None, "None", "ConditionalCheckFailed", "TransactionConflict", "ThrottlingError",
              "ProvisionedThroughputExceeded", "RequestLimitExceeded", "InternalServerError"}


def refuse_if_permanent(e: PutError | TransactWriteError) -> None:
    """Raise :class:`WriteRefused` when a failed write can never succeed as it stands."""
    cancelled = [r for r in getattr(e, "cancellation_reasons", None) or [] if r is not None]  # transactions only
    if e.cause_response_code == "ValidationException" or {r.code for r in cancelled} - _RETRYABLE:
        refused = next((r for r in cancelled if r.code not in _RETRYABLE), None)
        message = (refused.message if refused else e.cause_response_message) or "the write was refused"
        raise WriteRefused(f"DynamoDB refused the write: {message}"[:500],
                           details={"reason": refused.code if refused else e.cause_response_code}) from e


def backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.25, 0.004 * 2 ** min(attempt, 6))))  # noqa: S311 (jitter, not secrets)
