"""Every template renders valid activities that pay what they say on a matching event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib import errors
from chalicelib.api.validation import validate
from chalicelib.rules.activity import compile_activity
from chalicelib.rules.engine import Ruleset
from chalicelib.rules.templates import TEMPLATES

AT = datetime(2026, 6, 2, 10, 30, tzinfo=UTC)
MEMBER = {"tier": None, "segments": [], "counters": {"purchase": 9}, "profile": {}}

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
}


def test_every_template_has_a_case():
    assert set(CASES) == set(TEMPLATES)


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_a_template_renders_activities_that_pay_as_documented(template_id):
    parameters, event, expected = CASES[template_id]
    rendered = TEMPLATES[template_id].render(parameters)
    activities = [compile_activity({**validate("ActivityInput", a), "status": "active"}, activity_id=f"t{i}",
                                   version=1, brand_id="b") for i, a in enumerate(rendered)]

    paid = {o.activity_id: o.points for o in Ruleset(activities).evaluate(event, MEMBER, AT).outcomes}

    assert [paid.get(f"t{i}", 0) for i in range(len(rendered))] == expected
    assert all(a["status"] == "draft" for a in rendered)  # brands review before activating


def test_a_milestone_pays_only_on_its_nth_event():
    (activity,) = TEMPLATES["milestone"].render({"nth": 3, "event": "deposit"})
    ruleset = Ruleset([compile_activity({**activity, "status": "active"}, activity_id="m", version=1, brand_id="b")])

    paid = [bool(ruleset.evaluate({"type": "deposit"}, {"counters": {"deposit": n}}, AT).outcomes) for n in range(5)]

    assert paid == [False, False, True, False, False]


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
