"""Heartbeats, canary receipts and create-once records on DynamoDB Local."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from chalicelib.ops import store


def test_heartbeat_counts_every_beat(local_aws):
    name = f"hb-{uuid.uuid4()}"
    at = datetime(2026, 1, 1, tzinfo=UTC)

    store.beat(name, at)
    store.beat(name, at)

    record = store.get("heartbeat", name)
    assert record.count == 2
    assert record.updated_at == at


def test_canary_receipt_shows_duplicate_delivery_and_expires(local_aws):
    canary_id = str(uuid.uuid4())
    at = datetime(2026, 1, 1, tzinfo=UTC)

    store.record_canary(canary_id, at)
    store.record_canary(canary_id, at)

    record = store.get("canary", canary_id)
    assert record.count == 2
    assert record.expires_at > at


def test_put_once_creates_exactly_once_under_contention(local_aws):
    key = str(uuid.uuid4())
    at = datetime.now(UTC)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: store.put_once("seed", key, at), range(32)))

    assert results.count(True) == 1
    assert store.get("seed", key).count == 1
