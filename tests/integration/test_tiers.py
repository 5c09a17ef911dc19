"""Tiers on DynamoDB Local: earnings by month kept by the ledger, upgrades on the grant that
crosses a threshold, the daily review's warning and downgrade after grace."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

PROGRAM = {"tiers": [{"id": "blue", "name": "Blue", "threshold": 0},
                     {"id": "silver", "name": "Silver", "threshold": 100, "multiplier": 2},
                     {"id": "gold", "name": "Gold", "threshold": 300}],
           "qualification": {"window_months": 12, "grace_days": 30, "warn_days": 10}}


@pytest.fixture
def tiers(local_aws):
    from chalicelib.tiers import service

    service.configure(PROGRAM, datetime.now(UTC))
    yield service
    service.configure({"tiers": []}, datetime.now(UTC))  # other modules share the table


def member(brand_id: str) -> str:
    from chalicelib.members import service as members

    profile, _, _ = members.create_or_enrol({"email": f"{uuid.uuid4().hex}@example.com"}, brand_id, "api",
                                            datetime.now(UTC))
    return profile.member_id


def notifications(sqs, member_id: str) -> list[dict]:
    from chalicelib import queues

    url, found = queues.queue_url("notifications"), []
    while True:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if not reply.get("Messages"):
            return found
        for message in reply["Messages"]:
            body = json.loads(message["Body"])
            if body.get("member_id") == member_id:
                found.append(body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_the_grant_that_crosses_the_threshold_upgrades_and_reversals_count(tiers, sqs):
    from chalicelib.ledger import wiring

    ledger, brand_id = wiring.ledger(), f"brand-{uuid.uuid4().hex[:8]}"
    member_id, now = member(brand_id), datetime.now(UTC)
    ledger.grant("g1", member_id, brand_id, 99)
    assert tiers.recompute(member_id, now).standing.tier == "blue"
    ledger.adjust("adj", member_id, 500, "goodwill")  # not earned: does not qualify
    assert tiers.recompute(member_id, now).standing.tier == "blue"
    ledger.grant("g2", member_id, brand_id, 1)
    change = tiers.recompute(member_id, now)

    assert (change.standing.tier, change.kind) == ("silver", "upgraded")
    assert tiers.progress(member_id, now) == {"tier": "silver", "next_tier": "gold", "points_to_next_tier": 200,
                                              "qualifying_points": 100}
    assert tiers.member_tier(member_id)[0] == "silver"
    assert [m["type"] for m in notifications(sqs, member_id)] == ["tier.upgraded"]
    ledger.reverse("r1", "g1", 50)
    assert tiers.progress(member_id, now)["qualifying_points"] == 50
    lapsed = tiers.recompute(member_id, now)  # still silver, but the downgrade is now scheduled
    assert lapsed.standing.tier == "silver"
    assert lapsed.standing.downgrade_at == now.date() + timedelta(days=30)


def test_the_daily_review_warns_then_downgrades_only_after_grace(tiers, sqs):
    from chalicelib.ids import shard_of
    from chalicelib.ledger import wiring
    from chalicelib.store.standings import DUE_SHARDS

    brand_id = f"brand-{uuid.uuid4().hex[:8]}"
    member_id, now = member(brand_id), datetime.now(UTC)
    wiring.ledger().grant("g", member_id, brand_id, 150)
    silver = tiers.recompute(member_id, now).standing
    first_of_month = datetime(now.year, now.month, 1, tzinfo=UTC)
    lapse = (first_of_month + timedelta(days=366)).replace(day=1)  # this month leaves the window
    assert silver.downgrade_at == lapse.date() + timedelta(days=30)
    shard = shard_of(member_id, DUE_SHARDS)

    def review(day) -> dict:
        at = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
        return tiers.review_page({"day": day.isoformat(), "shard": shard}, at)

    assert review(silver.warn_at - timedelta(days=1))["reviewed"] == 0  # nobody is due that day
    assert review(silver.warn_at)["warned"] >= 1
    assert tiers.standing(member_id).tier == "silver"
    assert review(silver.downgrade_at)["downgraded"] >= 1
    assert tiers.standing(member_id).tier == "blue"
    assert tiers.standing(member_id).review_at is None
    kinds = [(m["type"], m.get("downgrade_at")) for m in notifications(sqs, member_id)]
    assert kinds == [("tier.upgraded", None), ("tier.warned", silver.downgrade_at.isoformat()),
                     ("tier.downgraded", None)]


def test_the_pipeline_applies_the_tier_multiplier_and_upgrades_at_once(tiers):
    from chalicelib.activities import service as activities
    from chalicelib.events import service as events

    brand_id, now = f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    member_id = member(brand_id)
    activities.create(brand_id, {"name": "Visit", "status": "active", "trigger": {"event": "visit"},
                                 "reward": {"points": 60}}, now)

    def visit(key: str) -> int:
        accepted = events.accept(brand_id, {"type": "visit", "member_id": member_id, "idempotency_key": key}, now)
        return events.process(accepted.event_id, now)["outcomes"][0]["points"]

    assert [visit("v1"), visit("v2"), visit("v3")] == [60, 60, 120]  # the second grant makes them silver (x2)
    assert tiers.progress(member_id, now)["qualifying_points"] == 240
    assert tiers.standing(member_id).tier == "silver"
