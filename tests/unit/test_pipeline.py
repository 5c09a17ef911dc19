"""The earn pipeline's core on the in-memory ledger: decide once, grant once, refund in proportion."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chalicelib.events.pipeline import AlreadyReversed, Event, Pipeline, grant_id
from chalicelib.ledger import model
from chalicelib.ledger.memory import MemoryLedgerStore
from chalicelib.ledger.service import Ledger
from chalicelib.rules.activity import compile_activity
from chalicelib.rules.engine import Ruleset

AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


def ruleset(*definitions) -> Ruleset:
    return Ruleset([compile_activity({"status": "active", **d}, activity_id=f"a{i}", version=1, brand_id="b")
                    for i, d in enumerate(definitions)])


class World:
    def __init__(self, *definitions, members=("m",)) -> None:
        self.store = MemoryLedgerStore()
        self.ledger = Ledger(self.store, lambda: AT)
        self.rules = ruleset(*definitions)
        self.members = set(members)
        self.pipeline = Pipeline(self.ledger, lambda brand: self.rules,
                                 lambda member, at: {"id": member} if member in self.members else {}, ZoneInfo("UTC"))

    def event(self, n, event_type="purchase", member="m", at=AT, **attributes) -> Event:
        return Event(f"e{n}", "b", member, event_type, at, attributes)

    def balance(self, member="m") -> int:
        return self.store.book(member).posted


PER_EURO = {"name": "per euro", "trigger": {"event": "purchase"},
            "reward": {"per_unit": {"fact": "event.attributes.amount", "points": 1}}}


def test_a_redelivery_reuses_the_first_decision_even_after_the_rules_changed():
    world = World(PER_EURO)
    event = world.event(1, amount=40)
    decision, fresh = world.pipeline.decide(event)  # crash here: decided, nothing granted yet
    assert fresh

    world.rules = ruleset({**PER_EURO, "reward": {"points": 1000}})
    first = world.pipeline.process(event)
    again = world.pipeline.process(event)

    assert decision["outcomes"][0]["points"] == 40
    assert world.pipeline.decide(event) == (decision, False)
    assert first == again
    assert first["outcomes"][0]["points"] == 40
    assert world.balance() == 40
    assert world.store.read_guards(["events:b:m:purchase"])["events:b:m:purchase"][1]["count"] == 1  # counted once


def test_a_member_gone_before_processing_is_rejected_and_paid_nothing():
    world = World(PER_EURO, members=())
    assert world.pipeline.process(world.event(1, amount=5)) == {"status": "rejected", "reason": "member_not_found",
                                                               "outcomes": []}
    assert world.balance() == 0


def test_the_nth_event_milestone_pays_once_under_concurrent_events():
    world = World({"name": "10th", "trigger": {"event": "purchase"},
                   "reward": {"points": 100, "milestone": {"metric": "count", "at": 10}}})
    start = threading.Barrier(30)

    def go(n):
        start.wait()
        world.pipeline.process(world.event(n))

    threads = [threading.Thread(target=go, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert world.balance() == 100
    assert world.store.read_guards(["events:b:m:purchase"])["events:b:m:purchase"][1]["count"] == 30


def test_a_cumulative_amount_milestone_pays_on_the_event_that_crosses_it():
    world = World({"name": "spend 100", "trigger": {"event": "purchase"},
                   "reward": {"points": 50, "milestone": {"metric": "total", "at": 100, "repeat": True}}})
    paid = [world.pipeline.process(world.event(n, amount=amount))["outcomes"]
            for n, amount in enumerate([30, 60, 20, 5, 90, 1])]

    assert [bool(o) for o in paid] == [False, False, True, False, True, False]  # at 110 and at 205


def test_limits_hold_across_redeliveries_and_crashes_between_grant_and_record():
    world = World({**PER_EURO, "limits": [{"scope": "member", "period": "day", "max_points": 100}],
                   "on_exhausted": "partial"})
    rng = random.Random(7)
    events = [world.event(n, amount=rng.randint(1, 40)) for n in range(20)]
    for event in events + rng.sample(events, 10):  # every event, then redeliveries of half of them
        world.pipeline.process(event)

    results = [world.pipeline.process(event) for event in events]

    assert world.balance() == 100
    assert sum(o["points"] for r in results for o in r["outcomes"]) == 100
    assert {o["reason"] for r in results for o in r["outcomes"] if o["points"] < o["requested_points"]} == \
        {"limit_reached"}


def test_refunds_reverse_in_proportion_with_no_drift_and_never_twice():
    world = World(PER_EURO, {"name": "bonus", "trigger": {"event": "purchase"}, "reward": {"points": 7}})
    event = world.event(1, amount=99)
    granted = world.pipeline.process(event)["outcomes"]
    assert world.balance() == 106

    parts = [world.pipeline.reverse(event, granted, f"r{i}", Decimal(33), Decimal(99)) for i in range(3)]
    again = world.pipeline.reverse(event, granted, "r0", Decimal(33), Decimal(99))

    assert [p["points"] for p in parts] == [33 + 2, 33 + 2, 33 + 3]  # floor of cumulative targets
    assert again == parts[0]
    assert world.balance() == 0
    with pytest.raises(AlreadyReversed):
        world.pipeline.reverse(event, granted, "r3", None, Decimal(99))
    with pytest.raises(model.ExistsWithDifferentFields):
        world.pipeline.reverse(event, granted, "r1", Decimal(1), Decimal(99))


def test_a_refund_inside_the_return_window_takes_back_pending_points():
    world = World({**PER_EURO, "pending_for": "P14D"})
    event = world.event(1, amount=50)
    granted = world.pipeline.process(event)["outcomes"]
    assert world.store.book("m").pending_credit(AT) == 50

    result = world.pipeline.reverse(event, granted, "full", None, Decimal(50))

    assert result["points"] == 50
    assert result["reversals"][0]["shortfall"] == 0
    assert world.store.book("m").posted == 0
    assert world.store.transfer(grant_id("e1", "a0", 1, 0)).available_after == "P14D"
    assert world.store.book("m").available(AT + timedelta(days=15)) == 0
