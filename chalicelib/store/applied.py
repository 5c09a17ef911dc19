"""Exactly-once application of a message to counters: an ``APPLIED#<message id>`` marker put
(if absent) in the same DynamoDB transaction as the changes it makes. A redelivery finds the
marker and changes nothing; a crash leaves neither. Used by the notification listeners that
keep aggregates (the leaderboard, analytics), on boto3's low-level client because they
``ADD`` to attribute names chosen at run time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws, errors

KEEP_DAYS = 14  # longer than any queue keeps a message: a marker outlives every redelivery
ATTEMPTS = 12  # then the message goes back to its queue and is retried later


def marker(table: str, message_id: str, at: datetime) -> dict[str, Any]:
    """The transaction's first item: the message's marker, put only if absent (expires by TTL)."""
    return {"Put": {"TableName": table, "Item": {
        "pk": {"S": f"APPLIED#{message_id}"}, "sk": {"S": "APPLIED"},
        "expires_at": {"N": str(int((at + timedelta(days=KEEP_DAYS)).timestamp()))}},
        "ConditionExpression": "attribute_not_exists(pk)"}}


def commit_if_new(items: list[dict[str, Any]]) -> bool:
    """One attempt at a transaction that holds several messages' markers and changes. False if
    it was cancelled (a marker existed, a condition failed, a conflict): nothing was written,
    and each message can then be applied alone with :func:`apply_once`."""
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=items)
    except ClientError as e:
        if e.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        return False
    return True


def apply_once(build: Callable[[], list[dict[str, Any]]], busy: str) -> bool:
    """Commit ``build()`` (the marker first, then the changes) as one transaction. False: the
    marker existed (applied before). Any other cancellation (a conflicting transaction, a
    condition on the changes) builds again from fresh reads after a jittered pause."""
    client = aws.client("dynamodb")
    for attempt in range(ATTEMPTS):
        try:
            client.transact_write_items(TransactItems=build())
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = e.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
        time.sleep(random.uniform(0, min(0.25, 0.004 * 2**attempt)))  # noqa: S311 (jitter, not secrets)
    raise errors.ServiceUnavailable(busy)
