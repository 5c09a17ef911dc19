"""Limits and budgets: what an outcome may pay, decided from guards, applied as guards."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import errors
from chalicelib.ledger import model
from chalicelib.ledger.memory import MemoryLedgerStore
from chalicelib.rules import limits
from chalicelib.rules.activity import compile_activity

AT = datetime(2026, 6, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2 June in Amsterdam


def activity(limit_specs, on_exhausted="skip", timezone="UTC"):
    compiled = compile_activity({"name": "a", "trigger": {"event": "e"}, "reward": {"points": 10},
                                 "limits": limit_specs,
                             "on_exhausted": on_exhausted, "schedule": {"timezone": timezone}},
                            activity_id="act", version=1, brand_id="b")
    subject = limits.Subject.of(compiled)
    assert limits.Subject.from_json(subject.to_json()) == subject  # survives the decision's JSON
    return subject


class Counters:
    """Guards in a memory ledger store: decide, then commit with a grant, as the pipeline does."""

    def __init__(self) -> None:
        self.store, self.n = MemoryLedgerStore(), 0

    def earn(self, act, points, at=AT, member="m"):
        states = self.store.guards.read(limits.guard_keys(act, member))
        decision = limits.decide(act, member, points, at, f"seed{self.n}", states)
        if decision.points:
            self.n += 1
            self.store.commit(model.Transfer(f"t{self.n}", "issuance:b", model.member_account(member),
                                             decision.points, model.Code.EARN), at, decision.guards)
        return decision.points, decision.reason


def test_a_calendar_day_is_the_activitys_local_day():
    counters = Counters()
    act = activity([{"scope": "member", "period": "day", "max_times": 1}], timezone="Europe/Amsterdam")

    assert counters.earn(act, 10) == (10, None)
    assert counters.earn(act, 10, AT + timedelta(hours=2)) == (0, "limit_reached")  # a new UTC day, same local one
    assert counters.earn(act, 10, AT + timedelta(hours=24)) == (10, None)  # 3 June, local
    assert counters.earn(act, 10, member="other") == (10, None)  # per member


def test_a_late_event_counts_in_its_own_period_until_that_period_is_dropped():
    counters = Counters()
    act = activity([{"scope": "member", "period": "day", "max_times": 1}])

    assert counters.earn(act, 10) == (10, None)
    assert counters.earn(act, 10, AT + timedelta(days=1)) == (10, None)  # a new day...
    assert counters.earn(act, 10, AT + timedelta(minutes=5)) == (0, "limit_reached")  # ...does not reopen the old
    for day in range(2, limits.KEEP_PERIODS + 2):
        counters.earn(act, 10, AT + timedelta(days=day))
    # the first day's count is gone: an event that late is refused, never paid on a guess
    assert counters.earn(act, 10, AT - timedelta(minutes=1)) == (0, "limit_window_closed")


def test_a_rolling_window_counts_grants_less_than_a_period_away_either_way():
    counters = Counters()
    act = activity([{"scope": "member", "period": "day", "window": "rolling", "max_times": 1}])

    assert counters.earn(act, 10) == (10, None)
    assert counters.earn(act, 10, AT + timedelta(hours=23)) == (0, "limit_reached")
    assert counters.earn(act, 10, AT - timedelta(hours=23)) == (0, "limit_reached")  # arrived late
    assert counters.earn(act, 10, AT + timedelta(hours=24)) == (10, None)
    counters.earn(act, 10, AT + timedelta(days=30))  # the log drops what is long past...
    assert counters.earn(act, 10, AT + timedelta(hours=30)) == (0, "limit_window_closed")  # ...and says so


def test_a_points_cap_skips_or_pays_what_is_left():
    specs = [{"scope": "member", "period": "month", "max_points": 25}]
    skip, partial = Counters(), Counters()

    assert [skip.earn(activity(specs), 10) for _ in range(3)] == [(10, None), (10, None), (0, "limit_reached")]
    assert [partial.earn(activity(specs, "partial"), 10) for _ in range(4)] == \
        [(10, None), (10, None), (5, "limit_reached"), (0, "limit_reached")]


def test_limits_over_one_period_share_one_guard():
    act = activity([{"scope": "member", "period": "day", "max_times": 3},
                    {"scope": "member", "period": "day", "max_points": 25}], "partial")
    counters = Counters()
    states = counters.store.guards.read(limits.guard_keys(act, "m"))

    decision = limits.decide(act, "m", 10, AT, "s", states)

    assert len(decision.guards) == 1  # two writes to one item would fail the transaction
    assert [counters.earn(act, 10) for _ in range(4)] == [(10, None), (10, None), (5, "limit_reached"),
                                                          (0, "limit_reached")]


def test_a_budget_is_sharded_and_wholly_spendable():
    counters = Counters()
    act = activity([{"scope": "activity", "period": "forever", "max_points": 1003}], "partial")

    paid = [counters.earn(act, 10, member=f"m{i}")[0] for i in range(110)]

    assert sum(paid) == 1003
    assert paid[100] == 3
    assert not any(paid[101:])
    keys = [k for k in counters.store.guards if ":budget:" in k]
    assert len(keys) == limits.BUDGET_SHARDS  # spread over every shard
    assert sum(counters.store.guards[k][1]["periods"]["forever"][1] for k in keys) == 1003


def test_a_times_budget_counts_grants_across_shards():
    counters = Counters()
    act = activity([{"scope": "activity", "period": "day", "max_times": 5}])

    assert [counters.earn(act, 10, member=f"m{i}")[0] for i in range(7)] == [10] * 5 + [0, 0]
    assert counters.earn(act, 10, AT + timedelta(days=1))[0] == 10  # a new day, a new budget


def test_an_activity_budget_must_be_calendar():
    with pytest.raises(errors.ValidationFailed) as raised:
        activity([{"scope": "activity", "period": "day", "window": "rolling", "max_points": 5}])
    assert raised.value.details["pointer"] == "/limits/0/window"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["skip", "partial"]), st.integers(1, 500), st.integers(1, 40),
       st.integers(1, 6))
def test_caps_are_never_exceeded_and_only_exhaustion_refuses(seed, mode, budget, cap_points, cap_times):
    rng = random.Random(seed)
    act = activity([{"scope": "activity", "period": "forever", "max_points": budget},
                    {"scope": "member", "period": "week", "max_points": cap_points, "max_times": cap_times}], mode)
    counters = Counters()
    granted: dict[str, list[int]] = {}
    for _ in range(60):
        member = f"m{rng.randint(1, 4)}"
        asked = rng.randint(1, 30)
        points, reason = counters.earn(act, asked, member=member)
        mine = granted.setdefault(member, [])
        total = sum(sum(v) for v in granted.values())
        if points:
            assert points == asked or (mode == "partial" and points < asked and reason)
            mine.append(points)
        else:  # refused: some cap really had no room for it
            room = min(budget - total, cap_points - sum(mine))
            assert len(mine) >= cap_times or room < (1 if mode == "partial" else asked)
        assert sum(mine) <= cap_points
        assert len(mine) <= cap_times
        assert sum(sum(v) for v in granted.values()) <= budget
