"""Tiers on DynamoDB Local: earnings by month kept by the ledger, upgrades on the grant that
crosses a threshold (paid at once, recorded by the tiers consumer from its own queue), the
daily review's warning and downgrade after grace."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.bus import purge_inbox, run_inbox

PROGRAM = {"tiers": [{"id": "blue", "name": "Blue", "threshold": 0},
                     {"id": "silver", "name": "Silver", "threshold": 100, "multiplier": 2},
                     {"id": "gold", "name": "Gold", "threshold": 300}],
           "qualification": {"window_months": 12, "grace_days": 30, "warn_days": 10}}


@pytest.fixture
def tiers(local_aws):
    from chalicelib.tiers import service

    service.configure(PROGRAM, datetime.now(UTC))
    purge_inbox("tiers")  # what other tests published: their members are not in this program
    yield service
    service.configure({"tiers": []}, datetime.now(UTC))  # other modules share the table


def member(brand_id: str) -> str:
    from chalicelib.members import service as members

    profile, _, _ = members.create_or_enrol({"email": f"{uuid.uuid4().hex}@example.com"}, brand_id, "api",
                                            datetime.now(UTC))
    return profile.member_id


def notifications(tap, member_id: str) -> list[dict]:
    """The domain events published for the member since the last look."""
    return tap.drain(lambda detail: detail.get("member_id") == member_id)


def test_the_grant_that_crosses_the_threshold_upgrades_and_reversals_count(tiers, bus_tap):
    from chalicelib import bootstrap

    ledger, brand_id = bootstrap.ledger(), f"brand-{uuid.uuid4().hex[:8]}"
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
    assert [m["type"] for m in notifications(bus_tap, member_id)] == ["tier.upgraded"]
    ledger.reverse("r1", "g1", 50)
    assert tiers.progress(member_id, now)["qualifying_points"] == 50
    lapsed = tiers.recompute(member_id, now)  # still silver, but the downgrade is now scheduled
    assert lapsed.standing.tier == "silver"
    assert lapsed.standing.downgrade_at == now.date() + timedelta(days=30)


def test_the_daily_review_warns_then_downgrades_only_after_grace(tiers, bus_tap):
    from chalicelib import bootstrap
    from chalicelib.ids import shard_of
    from chalicelib.store.standings import DUE_SHARDS

    brand_id = f"brand-{uuid.uuid4().hex[:8]}"
    member_id, now = member(brand_id), datetime.now(UTC)
    bootstrap.ledger().grant("g", member_id, brand_id, 150)
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
    kinds = [(m["type"], m.get("downgrade_at")) for m in notifications(bus_tap, member_id)]
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
    # paid and shown at once, from the earnings; the standing follows when the consumer runs
    assert tiers.progress(member_id, now)["tier"] == tiers.member_tier(member_id, now)[0] == "silver"
    assert tiers.standing(member_id).tier is None
    assert run_inbox("tiers") == 3  # one points.earned per visit
    assert tiers.standing(member_id).tier == "silver"


def test_a_batch_reads_its_members_once_and_pays_exactly_as_one_event_at_a_time(tiers):
    """Counters, lifetime earnings and tiers read once for an SQS batch: a member's later
    events in the batch still see what the earlier ones counted, earned and upgraded."""
    from unittest import mock

    import botocore.client

    import app
    from chalicelib import bootstrap
    from chalicelib.activities import service as activities
    from chalicelib.events import service as events
    from devstack.lambda_runtime import LambdaContext, sqs_event
    from devstack.sqs_poller import failed_ids

    brand_id, now = f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    visit = {"event": "visit"}
    for definition in ({"name": "Visit", "trigger": visit, "reward": {"points": 60}},
                       {"name": "Third visit", "trigger": visit,
                        "reward": {"points": 7, "milestone": {"metric": "count", "at": 3}}},
                       {"name": "Regulars", "trigger": visit, "reward": {"points": 1},
                        "conditions": {"fact": "member.lifetime_earned", "operator": ">=", "value": 100}}):
        activities.create(brand_id, {**definition, "status": "active"}, now)
    alone, batched = member(brand_id), member(brand_id)

    def accept(member_id, key):
        return events.accept(brand_id, {"type": "visit", "member_id": member_id, "idempotency_key": key}, now).event_id

    sequential = [events.process(accept(alone, f"s{i}"), now)["outcomes"] for i in range(4)]
    others = [member(brand_id) for _ in range(3)]
    ids = [accept(batched, f"b{i}") for i in range(4)]
    batch = [{"MessageId": f"m{i}", "ReceiptHandle": f"rh{i}", "Body": json.dumps({"event_id": eid}),
              "Attributes": {"ApproximateReceiveCount": "1"}, "MessageAttributes": {}}
             for i, eid in enumerate(ids + [accept(m, f"o{i}") for i, m in enumerate(others)])]
    real = botocore.client.BaseClient._make_api_call
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        reply = app.process_events(sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))

    assert failed_ids(reply, batch) == set()
    in_batch = [events.get(brand_id, eid).outcomes for eid in ids]

    def paid(outcomes):
        return [(o["activity_id"], o["points"]) for o in outcomes]

    assert [paid(o) for o in in_batch] == [paid(o) for o in sequential]
    # by hand: 60, 60 (now silver at 120: x2), 120 + 14 (third) + 2 (regular), 120 + 2 (now gold)
    assert [sum(p for _, p in paid(o)) for o in in_batch] == [60, 60, 136, 122]
    assert bootstrap.ledger_store().book(batched).posted == bootstrap.ledger_store().book(alone).posted == 378
    run_inbox("tiers")
    assert tiers.standing(batched).tier == "gold"  # 378 points: past 300 on the last event
    gets = [c.args[2]["Key"]["sk"]["S"] for c in made.call_args_list if c.args[1] == "GetItem"]
    # lifetime earnings: one BatchGetItem for the batch; a member's later events read theirs
    # again once an earlier one of the batch granted points (3 of the 7 events here)
    assert gets.count("BOOK") == 3
    assert "STANDING" not in gets  # tiers: the batch's standings and earnings, read once
    earnings = [c for c in made.call_args_list if c.args[1] == "BatchGetItem"
                and any("#EARNED#" in k["sk"]["S"] or k["sk"]["S"].startswith("EARNED#")
                        for t in c.args[2]["RequestItems"].values() for k in t["Keys"])]
    assert len(earnings) == 1  # the window's months of all five members (4 x 12 keys), at once
    guard_reads = [c for c in made.call_args_list if c.args[1] == "BatchGetItem"
                   and any(k["pk"]["S"].startswith("GUARD#events:") for t in c.args[2]["RequestItems"].values()
                           for k in t["Keys"])]
    assert len(guard_reads) == 1  # the counters of all seven events, at once


def test_the_tiers_consumer_records_an_upgrade_once_however_often_it_is_delivered(tiers, bus_tap):
    from chalicelib import bootstrap
    from chalicelib.bus import catalogue
    from tests.bus import deliver

    brand_id = f"brand-{uuid.uuid4().hex[:8]}"
    member_id, now = member(brand_id), datetime.now(UTC)
    bootstrap.ledger().grant("g-150", member_id, brand_id, 150)
    earned = catalogue.PointsEarned(id="earned:e-150", at=now, brand_id=brand_id, member_id=member_id,
                                    event_id="e-150", points=150)

    assert deliver("tiers", [earned, earned]) == []  # a duplicate within the batch
    assert deliver("tiers", [earned]) == []  # and a redelivery later

    assert tiers.standing(member_id).tier == "silver"
    assert [m["type"] for m in notifications(bus_tap, member_id)] == ["tier.upgraded"]  # once
    reversed_ = catalogue.PointsReversed(id="reversed:e-150:r", at=now, brand_id=brand_id, member_id=member_id,
                                         event_id="e-150", points=100)
    bootstrap.ledger().reverse("r-150", "g-150", 100)
    assert deliver("tiers", [reversed_]) == []
    lapsed = tiers.standing(member_id)
    assert lapsed.tier == "silver"  # kept through the grace...
    assert lapsed.downgrade_at is not None  # ...whose end is now scheduled
    assert tiers.member_tier(member_id, now)[0] == "silver"


def test_earnings_by_month_for_many_members_read_as_each_alone(tiers):
    from chalicelib import bootstrap
    from chalicelib.ledger.memory import MemoryLedgerStore
    from chalicelib.ledger.service import Ledger

    brand_id = f"brand-{uuid.uuid4().hex[:8]}"
    members = [member(brand_id) for _ in range(3)]
    for store in (bootstrap.ledger_store(), MemoryLedgerStore()):
        ledger = Ledger(store, bootstrap.now)
        for i, member_id in enumerate(members[:2]):
            ledger.grant(f"{brand_id}-g{i}", member_id, brand_id, 10 * (i + 1))
        ledger.reverse(f"{brand_id}-r0", f"{brand_id}-g0", 4)
        month = f"{datetime.now(UTC):%Y-%m}"
        first = f"{int(month[:4]) - 1}{month[4:]}"  # 13 months: keys of four members over two BatchGets
        many = store.earned_by_months([*members, "nobody"], first, month)
        assert many == {m: store.earned_by_month(m, first, month) for m in [*members, "nobody"]}
        assert many[members[0]] == {month: 6}
        assert many[members[2]] == {}


def test_the_tiers_consumer_reads_a_batchs_standings_and_earnings_at_once(tiers, bus_tap):
    from unittest import mock

    import botocore.client

    from chalicelib import bootstrap
    from chalicelib.bus import catalogue
    from tests.bus import deliver

    brand_id, now = f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    members = [member(brand_id) for _ in range(3)]
    batch = []
    for i, member_id in enumerate(members):
        for j, points in enumerate((60, 60 + 150 * i)):  # 120, 270, 420 in all: silver, silver, gold
            bootstrap.ledger().grant(f"{member_id}-g{j}", member_id, brand_id, points)
            batch.append(catalogue.PointsEarned(id=f"earned:{member_id}:{j}", at=now, brand_id=brand_id,
                                                member_id=member_id, event_id=f"{member_id}-{j}", points=points))
    real = botocore.client.BaseClient._make_api_call
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        assert deliver("tiers", batch) == []

    assert [tiers.standing(m).tier for m in members] == ["silver", "silver", "gold"]
    operations = [c.args[1] for c in made.call_args_list]
    assert "GetItem" not in operations  # the standings: one BatchGetItem for the batch
    assert "Query" not in operations  # the earnings: one BatchGetItem of the window's months
    assert operations.count("BatchGetItem") == 2
    assert operations.count("PutItem") == 3  # one standing written per member, each once
    assert sorted(m["tier"] for m in bus_tap.drain(lambda d: d.get("member_id") in members)) == \
        ["gold", "silver", "silver"]
