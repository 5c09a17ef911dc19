"""Daily expiry on DynamoDB Local and moto's SQS: fan-out by (day, shard), pages, catch-up."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import bootstrap, jobs, queues
from chalicelib.ledger import jobs as ledger_jobs
from chalicelib.ledger.service import Ledger
from chalicelib.store.ledger import EXPIRY_SHARDS


def drain_and_run(sqs) -> list[dict]:
    """Receive every message on the jobs queue and run the expiry ones, as the consumer would."""
    url, results = queues.queue_url("jobs"), []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not batch:
            return results
        for message in batch:
            if json.loads(message["Body"]).get("job") == "ledger.expire_due":
                results.append(jobs.run(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def empty_jobs_queue(sqs):
    drain_and_run(sqs)
    return sqs


def test_the_daily_run_expires_due_lots_page_by_page_and_catches_up(local_aws, empty_jobs_queue, monkeypatch):
    monkeypatch.setattr(ledger_jobs, "PAGE", 1)  # lots per message: every found lot continues its shard
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ledger, store = bootstrap.ledger(), bootstrap.ledger_store()
    members = [f"exp-{uuid.uuid4().hex[:10]}" for _ in range(7)]
    for i, member in enumerate(members):
        ledger.grant(f"{member}-due", member, "b", 10 + i, expires_at=today - timedelta(days=i % 3))  # due
        ledger.grant(f"{member}-later", member, "b", 5, expires_at=today + timedelta(days=30))  # not due
    held = members[0]
    ledger.hold(f"{held}-h", held, 12)  # holds 10 due points and 2 of the later lot

    sent = ledger_jobs.start_daily_expiry(today.date())
    results = drain_and_run(empty_jobs_queue)

    assert sent == (ledger_jobs.CATCH_UP_DAYS + 1) * EXPIRY_SHARDS
    assert len(results) > sent  # some shards needed more than one page
    for member in members[1:]:
        book = store.book(member)
        assert (book.posted, [lot.remaining for lot in book.lots]) == (5, [5]), member
    assert store.book(held).posted == 12  # only what the hold left available (3) expired...

    ledger.void(f"{held}-v", f"{held}-h")
    ledger_jobs.start_daily_expiry(today.date())
    drain_and_run(empty_jobs_queue)
    assert store.book(held).posted == 12  # ...a redelivered run replays (same run date)...

    ledger_jobs.start_daily_expiry(today.date() + timedelta(days=1))
    drain_and_run(empty_jobs_queue)
    assert store.book(held).posted == 5  # ...and the next day's run takes the rest of the due lot


def test_lots_are_indexed_on_their_expiry_day_and_never_expiring_ones_not_at_all(local_aws):
    store, now = bootstrap.ledger_store(), datetime(2026, 3, 10, 15, tzinfo=UTC)
    member, forever = f"exp-{uuid.uuid4().hex[:10]}", f"exp-{uuid.uuid4().hex[:10]}"
    Ledger(store, lambda: now, default_expires_after="P12M").grant(f"{member}-g", member, "b", 10)
    Ledger(store, lambda: now, default_expires_after=None).grant(f"{forever}-g", forever, "b", 10)

    def due_on(day):
        return {m for shard in range(EXPIRY_SHARDS) for m in store.members_with_lots_due(day, shard, 1000)[0]}

    assert member in due_on(date(2027, 3, 11))  # 15:00 + 12 months, rounded up to midnight
    assert member not in due_on(date(2027, 3, 10))
    assert store.book(forever).lots[0].expires_at is None
