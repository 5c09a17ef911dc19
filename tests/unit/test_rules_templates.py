"""Every template renders valid activities that pay what they say on a matching event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import errors
from chalicelib.api.validation import validate
from chalicelib.rules import counters
from chalicelib.rules.activity import compile_activity
from chalicelib.rules.engine import Ruleset
from chalicelib.rules.templates import TEMPLATES

AT = datetime(2026, 6, 2, 10, 30, tzinfo=UTC)
MEMBER = {"tier": None, "segments": [], "counters": {"purchase": 9}, "profile": {}}
# the member's 10th event of its type, on the 7th day in a row
BEFORE = {"count": 9, "total": "900", "day": "2026-06-01", "days": 6, "week": "2026-W22", "weeks": 1}
STATS = counters.stats(BEFORE, {**BEFORE, "count": 10, "day": "2026-06-02", "days": 7})

# template id -> (parameters, event, the points each rendered activity pays, in order)
CASES = {
    "purchase": ({}, {"type": "purchase", "attributes": {"amount": 42.75}}, [42]),
    "newsletter": ({"points": 60}, {"type": "newsletter.signup"}, [60]),
    "profile": ({}, {"type": "profile.completed"}, [100]),
    "referral": ({}, {"type": "referral.completed"}, [500, 0]),
    "social": ({"network": "x", "action": "retweet"}, {"type": "social.retweet", "attributes": {"network": "x"}},
               [10]),
    "account_opened": ({}, {"type": "account.opened", "attributes": {"opening_deposit": 125_000}}, [5000]),
    "balance_check": ({"threshold": 1000}, {"type": "balance.daily_check", "attributes": {"balance": 999.99}}, [0]),
    "direct_deposit": ({}, {"type": "direct_deposit.setup"}, [1000]),
    "deposit": ({"minimum": 500}, {"type": "deposit", "attributes": {"amount": 500}}, [50]),
    "milestone": ({"nth": 10}, {"type": "purchase"}, [250]),
    "streak": ({"days": 7}, {"type": "app.check_in"}, [100]),
}


def test_every_template_has_a_case():
    assert set(CASES) == set(TEMPLATES)


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_a_template_renders_activities_that_pay_as_documented(template_id):
    parameters, event, expected = CASES[template_id]
    rendered = TEMPLATES[template_id].render(parameters)
    activities = [compile_activity({**validate("ActivityInput", a), "status": "active"}, activity_id=f"t{i}",
                                   version=1, brand_id="b") for i, a in enumerate(rendered)]

    paid = {o.activity_id: o.points for o in Ruleset(activities).evaluate(event, MEMBER, AT, stats=STATS).outcomes}

    assert [paid.get(f"t{i}", 0) for i in range(len(rendered))] == expected
    assert all(a["status"] == "draft" for a in rendered)  # brands review before activating


def test_a_milestone_pays_only_on_its_nth_event():
    (activity,) = TEMPLATES["milestone"].render({"nth": 3, "event": "deposit"})
    ruleset = Ruleset([compile_activity({**activity, "status": "active"}, activity_id="m", version=1, brand_id="b")])

    state, paid = {}, []
    for _ in range(5):
        after = counters.advance(state, {"type": "deposit"}, AT, UTC)
        paid.append(bool(ruleset.evaluate({"type": "deposit"}, {}, AT, stats=counters.stats(state, after)).outcomes))
        state = after

    assert paid == [False, False, True, False, False]


def test_a_streak_pays_every_nth_consecutive_day_once_and_restarts_after_a_gap():
    (activity,) = TEMPLATES["streak"].render({"days": 3, "event": "app.check_in"})
    ruleset = Ruleset([compile_activity({**activity, "status": "active"}, activity_id="s", version=1, brand_id="b")])
    days = [0, 0, 1, 2, 2, 3, 4, 5, 7, 8, 9]  # two events on day 0 and day 2; a gap on day 6
    state, paid = {}, []
    for day in days:
        at = AT + timedelta(days=day)
        after = counters.advance(state, {"type": "app.check_in"}, at, UTC)
        outcome = ruleset.evaluate({"type": "app.check_in"}, {}, at, stats=counters.stats(state, after)).outcomes
        paid.append((day, after["days"], bool(outcome)))
        state = after

    assert [(day, streak) for day, streak, hit in paid if hit] == [(2, 3), (5, 6), (9, 3)]


@pytest.mark.parametrize(("template_id", "parameters", "pointer"), [
    ("newsletter", {"points": 0}, "/parameters/points"),
    ("newsletter", {"points": "many"}, "/parameters/points"),
    ("newsletter", {"bonus": 1}, "/parameters/bonus"),
    ("social", {"network": "myspace"}, "/parameters/network"),
    ("milestone", {"event": "Big Purchase!"}, "/parameters/event"),
])
def test_bad_parameters_point_at_the_parameter(template_id, parameters, pointer):
    with pytest.raises(errors.ValidationFailed) as raised:
        TEMPLATES[template_id].render(parameters)
    assert raised.value.details["pointer"] == pointer
