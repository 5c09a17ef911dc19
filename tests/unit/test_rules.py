"""The rules engine: conditions, rewards, schedule, audience, stacking, errors with pointers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import errors
from chalicelib.api.validation import validate
from chalicelib.rules.activity import compile_activity
from chalicelib.rules.conditions import compile_condition
from chalicelib.rules.engine import Facts, Ruleset
from tests import rules_reference

# Tuesday 2026-06-02, 10:30 UTC = 12:30 in Amsterdam
AT = datetime(2026, 6, 2, 10, 30, tzinfo=UTC)
MEMBER = {"tier": "gold", "segments": ["vip"], "profile": {"city": "Delft", "interests": ["coffee", "tea"]},
          "days_since_joining": 40, "lifetime_earned": 1200, "counters": {"purchases": 9}}


def activity(activity_id="a1", **fields):
    data = {"name": activity_id, "status": "active", "trigger": {"event": "purchase"}, "reward": {"points": 10},
            **fields}
    return compile_activity(validate("ActivityInput", data), activity_id=activity_id, version=1, brand_id="b")


def paid(ruleset, event=None, member=MEMBER, at=AT):
    event = event or {"type": "purchase", "attributes": {"amount": 25.5}}
    return {o.activity_id: o.points for o in ruleset.evaluate(event, member, at).outcomes}


def holds(condition, event_attributes=None, member=MEMBER, at=AT):
    facts = Facts({"type": "purchase", "attributes": event_attributes or {}}, member, at)
    from zoneinfo import ZoneInfo
    return compile_condition(condition)(facts.in_zone(ZoneInfo("Europe/Amsterdam")))


@pytest.mark.parametrize(("condition", "expected"), [
    ({"fact": "event.attributes.amount", "operator": ">=", "value": 25}, True),
    ({"fact": "event.attributes.amount", "operator": "<", "value": 25}, False),
    ({"fact": "event.attributes.amount", "operator": "between", "value": [20, 30]}, True),
    ({"fact": "event.attributes.amount", "operator": ">", "value": "20"}, False),  # number vs string: no match
    ({"fact": "event.attributes.sku", "operator": "in", "value": ["A1", "B2"]}, True),
    ({"fact": "event.attributes.sku", "operator": "not_in", "value": ["A1", "B2"]}, False),
    ({"fact": "event.attributes.sku", "operator": "starts_with", "value": "A"}, True),
    ({"fact": "event.attributes.missing", "operator": "!=", "value": 1}, False),  # missing fails, even !=
    ({"fact": "event.attributes.missing", "operator": "exists", "value": False}, True),
    ({"fact": "event.attributes.flag", "operator": "==", "value": 1}, False),  # true is not 1
    ({"fact": "event.attributes.flag", "operator": "==", "value": True}, True),
    ({"fact": "event.attributes.lines.0.sku", "operator": "==", "value": "X"}, True),
    ({"fact": "member.profile.interests", "operator": "contains", "value": "tea"}, True),
    ({"fact": "member.segments", "operator": "contains", "value": "vip"}, True),
    ({"fact": "member.counters.purchases", "operator": "==", "value": 9}, True),
    ({"fact": "time.day_of_week", "operator": "==", "value": "tue"}, True),
    ({"fact": "time.hour", "operator": "==", "value": 12}, True),  # local to the activity's timezone
    ({"fact": "time.local_time", "operator": "between", "value": ["12:00", "13:00"]}, True),
    ({"all": [{"fact": "member.tier", "operator": "==", "value": "gold"},
              {"not": {"fact": "member.profile.city", "operator": "==", "value": "Delft"}}]}, False),
    ({"any": [{"fact": "member.tier", "operator": "==", "value": "silver"},
              {"fact": "member.days_since_joining", "operator": ">", "value": 30}]}, True),
])
def test_operators_and_facts(condition, expected):
    attributes = {"amount": 25.5, "sku": "A1", "flag": True, "lines": [{"sku": "X"}]}
    assert holds(condition, attributes) is expected


@pytest.mark.parametrize(("condition", "pointer"), [
    ({"fact": "event.attrs.amount", "operator": "==", "value": 1}, "/conditions/fact"),
    ({"all": [{"fact": "event.type", "operator": "between", "value": [5, 1]}]}, "/conditions/all/0/value"),
    ({"all": [{"fact": "event.type", "operator": "in", "value": []}]}, "/conditions/all/0/value"),
    ({"any": [{"fact": "event.type", "operator": "==", "value": 1}, {"not": {"fact": "time.hour",
                                                                          "operator": "exists", "value": 1}}]},
     "/conditions/any/1/not/value"),
    ({"fact": "event.type", "operator": "==", "value": 1, "all": []}, "/conditions"),
    ({"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"fact": "event.type", "operator": "exists",
                                                                      "value": True}}}}}}}}}, "/conditions/not"),
])
def test_condition_errors_point_at_the_field(condition, pointer):
    with pytest.raises(errors.ValidationFailed) as raised:
        compile_condition(condition)
    assert raised.value.details["pointer"].startswith(pointer)
    assert errors.http_status(raised.value) == 422


@pytest.mark.parametrize(("reward", "amount", "tier", "points"), [
    ({"points": 50}, 25.5, "silver", 50),
    ({"points": 50, "multipliers": {"gold": 1.5}}, 25.5, "gold", 75),
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1}}, 25.5, None, 25),
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1, "rounding": "ceil"}}, 25.5, None, 26),
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1, "rounding": "round"}}, 25.5, None, 26),
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1, "unit": 10}}, 25.5, None, 2),  # 1 per 10
    ({"per_unit": {"fact": "event.attributes.amount", "points": 3}, "multipliers": {"gold": 2}}, 0.1, "gold", 0),
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1}, "max_points": 20}, 25.5, None, 20),
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1}}, 19.99, None, 19),  # no float surprises
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1}}, "12.5", None, 12),
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1}}, -5, None, 0),
    ({"per_unit": {"fact": "event.attributes.amount", "points": 1}}, "lots", None, 0),
])
def test_rewards(reward, amount, tier, points):
    ruleset = Ruleset([activity(reward=reward)])
    event = {"type": "purchase", "attributes": {"amount": amount}}

    assert paid(ruleset, event, {**MEMBER, "tier": tier}).get("a1", 0) == points


def test_schedule_in_the_activitys_timezone():
    amsterdam = {"timezone": "Europe/Amsterdam"}
    ruleset = Ruleset([
        activity("lunch", schedule={**amsterdam, "hours": {"from": "12:00", "to": "14:00"}}),
        activity("morning", schedule={**amsterdam, "hours": {"from": "06:00", "to": "12:00"}}),
        activity("night", schedule={**amsterdam, "hours": {"from": "22:00", "to": "02:00"}}),
        activity("weekend", schedule={**amsterdam, "days": ["sat", "sun"]}),
        activity("later", schedule={"starts_at": "2026-07-01T00:00:00Z"}),
        activity("over", schedule={"ends_at": "2026-06-02T10:30:00Z"}),
    ])

    assert set(paid(ruleset)) == {"lunch"}
    assert set(paid(ruleset, at=datetime(2026, 6, 6, 23, 30, tzinfo=UTC))) == {"night", "weekend"}  # 01:30 Sun


def test_audience_and_status():
    ruleset = Ruleset([activity("gold", audience={"tiers": ["gold"]}),
                       activity("silver", audience={"tiers": ["silver"]}),
                       activity("vip", audience={"segments": ["vip", "new"]}), activity("draft", status="draft")])

    result = ruleset.evaluate({"type": "purchase"}, MEMBER, AT, explain=True)

    assert {o.activity_id for o in result.outcomes} == {"gold", "vip"}
    reasons = {e.activity_id: e.reason for e in result.explanations}
    assert reasons == {"gold": None, "vip": None, "silver": "tier_not_in_audience", "draft": "status_draft"}


def test_stacking_exclusive_groups_and_highest_wins():
    ruleset = Ruleset([
        activity("base", reward={"points": 5}),
        activity("welcome-a", reward={"points": 100}, stacking="exclusive:welcome", priority=1),
        activity("welcome-b", reward={"points": 300}, stacking="exclusive:welcome", priority=5),
        activity("promo-small", reward={"points": 20}, stacking="highest_wins"),
        activity("promo-big", reward={"points": 40}, stacking="highest_wins"),
        activity("other-trigger", trigger={"event": "signup"}),
    ])

    result = ruleset.evaluate({"type": "purchase"}, MEMBER, AT, explain=True)

    # candidates in priority order, then id: the order (and so each outcome's index) is stable
    assert [(o.activity_id, o.points, o.index) for o in result.outcomes] == [
        ("welcome-b", 300, 0), ("base", 5, 1), ("promo-big", 40, 2)]
    reasons = {e.activity_id: e.reason for e in result.explanations}
    assert reasons["welcome-a"] == "lost_to_exclusive:welcome"
    assert reasons["promo-small"] == "lost_to_highest_wins"
    assert reasons["other-trigger"] == "trigger_mismatch"


@pytest.mark.parametrize(("fields", "pointer"), [
    ({"schedule": {"timezone": "Mars/Olympus"}}, "/schedule/timezone"),
    ({"schedule": {"starts_at": "2026-07-01T00:00:00Z", "ends_at": "2026-06-01T00:00:00Z"}}, "/schedule/ends_at"),
    ({"schedule": {"starts_at": "next tuesday"}}, "/schedule/starts_at"),
    ({"reward": {"per_unit": {"fact": "event.amount"}}}, "/reward/per_unit/fact"),
    ({"reward": {"points": 5, "per_unit": {"fact": "event.attributes.amount"}}}, "/reward"),
    ({"limits": [{"scope": "member", "period": "day"}]}, "/limits/0"),
    ({"limits": [{"scope": "member", "period": "forever", "window": "rolling", "max_times": 1}]}, "/limits/0/window"),
    ({"pending_for": "P0D"}, "/pending_for"),
])
def test_activity_errors_point_at_the_field(fields, pointer):
    with pytest.raises(errors.ValidationFailed) as raised:
        activity(**fields)
    assert raised.value.details["pointer"] == pointer


# -- the compiled engine agrees with the plain reference interpreter ---------------------------

FACTS = ["event.attributes.a", "event.attributes.b", "event.attributes.s", "event.attributes.l",
         "member.tier", "member.counters.n", "event.attributes.nested.x"]
values = st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False), st.booleans(), st.none(),
                   st.sampled_from(["", "a", "ab", "b", "gold"]))
leaf = st.one_of(
    st.builds(lambda f, o, v: {"fact": f, "operator": o, "value": v}, st.sampled_from(FACTS),
              st.sampled_from(["==", "!="]), values),
    st.builds(lambda f, o, v: {"fact": f, "operator": o, "value": v}, st.sampled_from(FACTS),
              st.sampled_from([">", ">=", "<", "<="]), st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b"]))),
    st.builds(lambda f, lo, width: {"fact": f, "operator": "between", "value": [lo, lo + width]},
              st.sampled_from(FACTS), st.integers(-5, 5), st.integers(0, 5)),
    st.builds(lambda f, o, v: {"fact": f, "operator": o, "value": v}, st.sampled_from(FACTS),
              st.sampled_from(["in", "not_in"]), st.lists(values, min_size=1, max_size=4)),
    st.builds(lambda f, v: {"fact": f, "operator": "contains", "value": v}, st.sampled_from(FACTS),
              st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b"]))),
    st.builds(lambda f, v: {"fact": f, "operator": "starts_with", "value": v}, st.sampled_from(FACTS),
              st.sampled_from(["a", "g"])),
    st.builds(lambda f, v: {"fact": f, "operator": "exists", "value": v}, st.sampled_from(FACTS), st.booleans()),
)
trees = st.recursive(leaf, lambda inner: st.one_of(
    st.builds(lambda c: {"all": c}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda c: {"any": c}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda c: {"not": c}, inner)), max_leaves=8)
attributes = st.fixed_dictionaries({}, optional={
    "a": values, "b": st.integers(-5, 5), "s": st.sampled_from(["a", "ab", "gold", ""]),
    "l": st.lists(values, max_size=3), "nested": st.fixed_dictionaries({}, optional={"x": values})})


@settings(max_examples=400)
@given(trees, attributes, st.sampled_from(["gold", "silver", None]), st.one_of(st.none(), st.integers(-5, 5)))
def test_compiled_conditions_agree_with_the_reference_interpreter(tree, attrs, tier, n):
    member = {"counters": {} if n is None else {"n": n}, **({"tier": tier} if tier else {})}
    facts = Facts({"type": "t", "attributes": attrs}, member, AT)

    compiled = compile_condition(tree)(facts)

    assert compiled == rules_reference.holds(tree, {"type": "t", "attributes": attrs}, member, {})


# -- the value index narrows candidates but never changes the result ----------------------------

index_leaf = st.one_of(
    st.builds(lambda f, v: {"fact": f, "operator": "==", "value": v}, st.sampled_from(FACTS),
              st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "gold"]), st.booleans())),
    st.builds(lambda f, v: {"fact": f, "operator": "in", "value": v}, st.sampled_from(FACTS),
              st.lists(st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.sampled_from(["a", "b"])),
                       min_size=1, max_size=3)))
activity_conditions = st.one_of(index_leaf, trees, st.builds(lambda a, b: {"all": [a, b]}, index_leaf, trees))


@settings(max_examples=200)
@given(st.lists(activity_conditions, min_size=1, max_size=12), st.lists(attributes, min_size=1, max_size=8),
       st.sampled_from(["gold", "silver"]))
def test_the_value_index_never_changes_who_pays(conditions, events, tier):
    ruleset = Ruleset([activity(f"a{i}", conditions=c, priority=i % 3) for i, c in enumerate(conditions)])
    member = {"tier": tier, "counters": {"n": 1}}

    for attrs in events:
        event = {"type": "purchase", "attributes": attrs}
        indexed = ruleset.evaluate(event, member, AT).outcomes
        exhaustive = ruleset.evaluate(event, member, AT, explain=True).outcomes
        assert indexed == exhaustive
