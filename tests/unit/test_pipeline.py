"""The earn pipeline's core on the in-memory ledger: decide once, grant once, refund in proportion."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chalicelib.events.decisions import MemoryDecisions
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
        self.decisions = MemoryDecisions(self.store.guards)
        self.ledger = Ledger(self.store, lambda: AT)
        self.rules = ruleset(*definitions)
        self.members = set(members)
        self.pipeline = Pipeline(self.ledger, self.decisions, lambda brand: self.rules,
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
    assert world.decisions.read_guards(["events:b:m:purchase"])["events:b:m:purchase"][1]["count"] == 1  # counted once


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
    assert world.decisions.read_guards(["events:b:m:purchase"])["events:b:m:purchase"][1]["count"] == 30


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


class CountingStore(MemoryLedgerStore):
    """Counts ledger writes; ``before_batch`` runs (once) inside the first ``commit_all``, before
    it writes: a concurrent delivery landing between the pipeline's read and its write."""

    def __init__(self, before_batch=None, refuse=()) -> None:
        super().__init__()
        self.commits, self.batches, self.before_batch, self.refuse = 0, [], before_batch, refuse

    def commit(self, transfer, now, guards=()):
        self.commits += 1
        if transfer.meta().get("activity_id") in self.refuse:
            raise model.InvalidTransfer("refused by the test")
        return super().commit(transfer, now, guards)

    def commit_all(self, transfers, now, guards=()):
        self.batches.append(len(transfers))
        if self.before_batch is not None:
            hook, self.before_batch = self.before_batch, None
            hook()
        if any(t.meta().get("activity_id") in self.refuse for t in transfers):
            raise model.InvalidTransfer("refused by the test")
        return super().commit_all(transfers, now, guards)


THREE = (PER_EURO,
         {"name": "daily bonus", "trigger": {"event": "purchase"}, "reward": {"points": 10},
          "limits": [{"scope": "member", "period": "day", "max_times": 1}]},
         {"name": "budget", "trigger": {"event": "purchase"}, "reward": {"points": 5},
          "limits": [{"scope": "activity", "period": "month", "max_points": 1000}]})


def world_over(store, *definitions) -> World:
    world = World(*definitions)
    world.store, world.ledger, world.decisions = store, Ledger(store, lambda: AT), MemoryDecisions(store.guards)
    world.pipeline.ledger, world.pipeline.decisions = world.ledger, world.decisions
    return world


def test_an_events_grants_commit_together_in_one_ledger_write_and_a_redelivery_moves_nothing():
    world = world_over(CountingStore(), *THREE)

    first = world.pipeline.process(world.event(1, amount=40))
    again = world.pipeline.process(world.event(1, amount=40))

    assert world.store.batches == [3]
    assert world.store.commits == 0
    assert [o["points"] for o in first["outcomes"]] == [40, 10, 5]
    assert {o["status"] for o in first["outcomes"]} == {"granted"}
    assert again == first
    assert world.balance() == 55
    assert world.store.batches == [3]
    assert world.store.commits == 0


def test_grants_whose_limit_moved_under_them_are_decided_again_and_still_go_together():
    store = CountingStore()
    world = world_over(store, *THREE)
    # another purchase of the member is counted between this event's read of its limits and its write
    store.before_batch = lambda: world.pipeline.process(world.event(2, amount=1))

    result = world.pipeline.process(world.event(1, amount=40))

    # ours (refused: the daily bonus's guard moved), event 2's, then ours decided again: the bonus is gone
    assert store.batches == [3, 3, 2]
    assert store.commits == 0
    by_name = {o["activity_id"]: o for o in result["outcomes"]}
    assert by_name["a1"]["status"] == "skipped"
    assert by_name["a1"]["reason"] == "limit_reached"
    assert by_name["a0"]["points"] == 40
    assert by_name["a2"]["points"] == 5
    assert world.balance() == 40 + 5 + (1 + 10 + 5)


def test_a_grant_no_retry_can_pay_is_rejected_alone_when_the_grants_went_together():
    world = world_over(CountingStore(refuse=("a1",)), *THREE)

    result = world.pipeline.process(world.event(1, amount=40))

    assert [(o["activity_id"], o["status"]) for o in result["outcomes"]] == \
        [("a0", "granted"), ("a1", "rejected"), ("a2", "granted")]
    assert result["outcomes"][1]["reason"] == "invalid_transfer"
    assert world.balance() == 45


def test_counters_read_for_a_batch_that_went_stale_cost_a_retry_never_a_miscount():
    from chalicelib.events.pipeline import counters_read_for_batch

    world = World({"name": "3rd", "trigger": {"event": "purchase"},
                   "reward": {"points": 100, "milestone": {"metric": "count", "at": 3}}})
    events = [world.event(n) for n in range(1, 5)]
    with counters_read_for_batch(world.store, events[1:]):
        # another container counts event 1 after the batch's read (a thread: not this batch's context)
        other = threading.Thread(target=world.pipeline.process, args=(events[0],))
        other.start()
        other.join()
        results = [world.pipeline.process(event) for event in events[1:]]

    assert [sum(o["points"] for o in r["outcomes"]) for r in results] == [0, 100, 0]  # the 3rd of 4 pays
    assert world.decisions.read_guards(["events:b:m:purchase"])["events:b:m:purchase"][1]["count"] == 4
