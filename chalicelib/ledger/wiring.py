"""The ledger the app runs: the service over the DynamoDB store, one per container."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from chalicelib import config
from chalicelib.ledger.dynamo import DynamoLedgerStore
from chalicelib.ledger.service import Ledger


@functools.cache
def store() -> DynamoLedgerStore:
    return DynamoLedgerStore()


def ledger() -> Ledger:
    return Ledger(store(), lambda: datetime.now(UTC), default_expires_after=config.points_expire_after())
