"""Money-safe numbers: strict JSON at the door, bounded grants in the pipeline, bounded transfers."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from chalicelib import errors, text
from chalicelib.api import strict_json, validation
from chalicelib.events.pipeline import Bounds, Pipeline
from chalicelib.ledger import model
from chalicelib.ledger.service import Ledger
from tests.unit.test_pipeline import AT, PER_EURO, World, ruleset


@pytest.mark.parametrize(("body", "code"), [
    ('{"points": NaN}', "non_finite_number"),
    ('{"points": Infinity}', "non_finite_number"),
    ('{"points": -Infinity}', "non_finite_number"),
    ('{"amount": 1e400}', "non_finite_number"),
    ('{"amount": 1e30}', "number_out_of_range"),
    ('{"amount": 9007199254740992}', "number_out_of_range"),
    ('{"amount": -9007199254740992}', "number_out_of_range"),
    ('{"amount": ' + "9" * 5000 + "}", "number_out_of_range"),
    ("[" * 10_000 + "]" * 10_000, "too_deep"),
    ("[" * 33 + "]" * 33, "too_deep"),
    ('{"name": "a\\u0000b"}', "invalid_text"),
    ('{"name": "\\ud800"}', "invalid_text"),
    ('{"\\udfff": 1}', "invalid_text"),
])
def test_bodies_no_client_can_hold_or_store_are_refused_with_a_code(body, code):
    with pytest.raises(strict_json.Refused) as refused:
        strict_json.loads(body)
    assert refused.value.code == code


def test_a_whole_number_is_an_integer_however_it_is_written_and_the_largest_safe_one_passes():
    decoded = strict_json.loads('{"a": 100.0, "b": 1e2, "c": 2.5, "d": 9007199254740991, "e": -0.0, '
                                '"f": [[[[1]]]]}')
    assert decoded == {"a": 100, "b": 100, "c": 2.5, "d": 2**53 - 1, "e": 0, "f": [[[[1]]]]}
    assert [type(decoded[k]) for k in "abcd"] == [int, int, float, int]
    assert strict_json.loads("[" * 32 + "]" * 32) is not None  # exactly the limit


@pytest.mark.parametrize("name", ["\u00a0", "\u200b\u200b", "\ufeff", " \u2003\u200d ", "\u2060\u180e", "a\nb",
                                  "a\x07", "Ada\n"])
def test_names_of_invisible_or_control_characters_are_refused(name):
    with pytest.raises(errors.ValidationFailed) as refused:
        validation.validate("BrandCreate", {"name": name})
    assert refused.value.details["pointer"] == "/name"
    assert "visible" in refused.value.message


def test_names_are_normalised_nfc_and_trimmed_of_invisible_ends():
    assert validation.validate("BrandCreate", {"name": "\ufeff  Cafe\u0301\u200b\u00a0"}) == {"name": "Caf\u00e9"}
    assert validation.validate("AdjustmentCreate", {"points": 5, "reason": " \u200bgift\n"})["reason"] == "gift"
    body = validation.validate("TierProgram", {"tiers": [{"id": "blue", "name": "\u00a0Blue\u00a0", "threshold": 0}]})
    assert body["tiers"][0]["name"] == "Blue"
    assert text.is_text("")
    assert not text.is_text("\u200b")


def test_a_path_id_that_is_not_an_id_names_nothing():
    with pytest.raises(errors.NotFound) as refused:
        validation.check_path("/v1/members/{member_id}", {"member_id": "x" * 3000})
    assert refused.value.details == {"parameter": "member_id", "rule": "pattern"}
    validation.check_path("/v1/members/{member_id}", {"member_id": "01JDQ4ZQ0N2V9K8W3X5Y6Z7A8B"})


def test_an_event_whose_grant_exceeds_the_program_maximum_is_rejected_and_counts_for_nothing():
    world = World(PER_EURO)
    world.pipeline.bounds = Bounds(per_grant=1000, per_event=5000)
    result = world.pipeline.process(world.event(1, amount=10**15))
    assert (result["status"], result["reason"]) == ("rejected", "points_over_maximum")
    assert result["details"] == {"activity_id": "a0", "points": 10**15, "maximum": 1000, "limit": "per_grant"}
    assert world.balance() == 0
    assert world.decisions.read_guards(["events:b:m:purchase"])["events:b:m:purchase"][1] == {}  # not counted
    assert world.pipeline.process(world.event(1, amount=10**15)) == result  # decided once
    assert world.pipeline.process(world.event(2, amount=1000))["outcomes"][0]["points"] == 1000  # at the bound


def test_an_activity_cap_clamps_instead_and_the_event_total_is_bounded_too():
    capped = {**PER_EURO, "name": "capped", "reward": {**PER_EURO["reward"], "max_points": 3000}}
    world = World(capped)
    world.pipeline.bounds = Bounds(per_grant=1000, per_event=5000)
    assert world.pipeline.process(world.event(1, amount=10**9))["outcomes"][0]["points"] == 3000

    world.rules = ruleset(capped, {**capped, "name": "twice"})
    result = world.pipeline.process(world.event(2, amount=10**9))
    assert (result["status"], result["details"]["limit"], result["details"]["points"]) == \
        ("rejected", "per_event", 6000)
    assert world.balance() == 3000


def test_a_tier_multiplier_cannot_push_a_grant_past_the_maximum():
    world = World({"name": "fixed", "trigger": {"event": "purchase"},
                   "reward": {"points": 600, "multipliers": {"gold": 2}}})
    world.pipeline = Pipeline(world.ledger, world.decisions, lambda brand: world.rules,
                              lambda m, at: {"id": m, "tier": "gold"}, ZoneInfo("UTC"),
                              Bounds(per_grant=1000, per_event=5000))
    assert world.pipeline.process(world.event(1))["reason"] == "points_over_maximum"


def test_the_ledger_refuses_a_transfer_beyond_the_exact_integer_range():
    world = World()
    ledger = Ledger(world.store, lambda: AT)
    with pytest.raises(model.InvalidTransfer):
        ledger.grant("t1", "m", "b", 2**53)
    ledger.grant("t2", "m", "b", 2**53 - 1)
    assert world.balance() == 2**53 - 1


def test_the_pipeline_defaults_come_from_settings(monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("PUNCHCARD_MAX_POINTS_PER_GRANT", "250")
    assert config.max_points_per_grant() == 250
    monkeypatch.setenv("PUNCHCARD_MAX_POINTS_PER_GRANT", str(2**53))
    with pytest.raises(ValueError, match="between 1 and"):
        config.max_points_per_grant()
    assert json.dumps(Bounds().__dict__) == '{"per_grant": 1000000, "per_event": 5000000}'


def test_the_text_patterns_in_the_document_are_the_ones_the_api_applies():
    """Clients (and the fuzzer) read the patterns; the API applies them and trims by the same class."""
    import re

    schemas = validation._components()["schemas"]
    assert schemas["BrandCreate"]["properties"]["name"]["pattern"] == text.LINE_PATTERN
    assert schemas["RewardInput"]["properties"]["description"]["pattern"] == text.TEXT_PATTERN
    for sample in ("Ada", "\u00a0", "x\u200b", "a\tb", "caf\u00e9", "\u3164", "\U0001f600"):
        assert text.is_line(sample) == bool(re.fullmatch(text.LINE_PATTERN, sample))
