"""Analytics, pure: what each notification counts, and the dashboard summary."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from chalicelib.analytics import model


def test_an_earning_counts_the_event_its_channel_its_points_and_each_activity():
    counts = model.counters({"type": "points.earned", "points": 70, "channel": "facebook",
                             "activities": [{"activity_id": "A", "points": 50}, {"activity_id": "B", "points": 20},
                                            {"activity_id": "A", "points": 0}]})
    assert counts == {"events": 1, "c:facebook": 1, "issued": 70, "a:A": 50, "a:B": 20}


def test_an_event_with_no_points_counts_on_its_channel_and_a_rejected_one_as_rejected():
    assert model.counters({"type": "event.processed", "status": "processed", "channel": "newsletter"}) == \
        {"events": 1, "c:newsletter": 1}
    assert model.counters({"type": "event.processed", "status": "processed", "channel": None}) == \
        {"events": 1, "c:other": 1}
    assert model.counters({"type": "event.processed", "status": "rejected", "channel": "app"}) == \
        {"events": 1, "rejected": 1}


def test_an_unknown_channel_is_other_and_bad_points_count_nothing():
    assert model.counters({"type": "points.earned", "points": True, "channel": "fax"}) == \
        {"events": 1, "c:other": 1, "issued": 0}
    assert model.counters({"type": "points.reversed", "points": -5}) == {}
    assert model.counters({"type": "tier.upgraded"}) == {}


def test_redemptions_and_cancellations():
    assert model.counters({"type": "redemption.fulfilled", "points": 500}) == {"redeemed": 500, "redemptions": 1}
    assert model.counters({"type": "redemption.cancelled", "points": 500}) == {"returned": 500, "cancellations": 1}
    assert model.counters({"type": "points.reversed", "points": 30}) == {"reversed": 30}


def test_the_day_is_the_program_local_date():
    at = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert model.day_of(at, "UTC") == "2026-11-22"
    assert model.day_of(at, "Europe/Paris") == "2026-11-23"
    assert model.day_of(at, "America/New_York") == "2026-11-22"


def test_summary_fills_every_day_and_merges_shards():
    rows = [("2026-11-20", {"events": 2, "issued": 10, "c:facebook": 2, "a:X": 10}),
            ("2026-11-22", {"events": 1, "redeemed": 40, "redemptions": 1, "c:in_store": 1}),
            ("2026-11-20", {"events": 3, "issued": 5, "c:in_store": 3, "a:Y": 5})]  # another shard
    result = model.summary(rows, date(2026, 11, 19), date(2026, 11, 22), {"X": "Like", "Y": "Buy"})
    assert [d["date"] for d in result["days"]] == ["2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"]
    assert [d["events"] for d in result["days"]] == [0, 5, 0, 1]
    assert [d["points_issued"] for d in result["days"]] == [0, 15, 0, 0]
    assert result["totals"]["points_redeemed"] == 40
    assert result["channels"] == [{"channel": "in_store", "events": 4}, {"channel": "facebook", "events": 2}]
    assert result["top_activities"] == [{"activity_id": "X", "name": "Like", "points": 10},
                                        {"activity_id": "Y", "name": "Buy", "points": 5}]


def test_summary_against_a_reference_on_random_rows():
    rng = random.Random(7)
    days = [date(2026, 11, d).isoformat() for d in range(1, 31)]
    rows, per_day, per_activity = [], {}, {}
    for _ in range(500):
        day, activity, points = rng.choice(days), f"act{rng.randint(0, 14)}", rng.randint(1, 100)
        rows.append((day, {"events": 1, "issued": points, f"a:{activity}": points}))
        per_day[day] = per_day.get(day, 0) + points
        per_activity[activity] = per_activity.get(activity, 0) + points
    result = model.summary(rows, date(2026, 11, 1), date(2026, 11, 30), {})
    assert {d["date"]: d["points_issued"] for d in result["days"] if d["points_issued"]} == per_day
    assert result["totals"]["points_issued"] == sum(per_day.values())
    best = sorted(per_activity.items(), key=lambda kv: (-kv[1], kv[0]))[:model.TOP_ACTIVITIES]
    assert [(a["activity_id"], a["points"]) for a in result["top_activities"]] == best


def test_adjustments_count_as_added_or_deducted():
    assert model.counters({"type": "points.adjusted", "points": 25}) == {"added": 25}
    assert model.counters({"type": "points.adjusted", "points": -10}) == {"deducted": 10}
    assert model.counters({"type": "points.adjusted", "points": 0}) == {}
