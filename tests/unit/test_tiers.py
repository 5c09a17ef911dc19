"""Tiers, pure: qualification by points earned in the window, upgrades at once, downgrades
only after the grace period with a warning before."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.tiers import model

PROGRAM = model.program({
    "tiers": [{"id": "blue", "name": "Blue", "threshold": 0},
              {"id": "silver", "name": "Silver", "threshold": 1000, "multiplier": 1.5},
              {"id": "gold", "name": "Gold", "threshold": 5000, "multiplier": 2}],
    "qualification": {"window_months": 12, "grace_days": 30, "warn_days": 10}})


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_the_window_is_the_last_twelve_calendar_months():
    earned = {"2025-11": 700, "2025-12": 300, "2026-11": 50}

    assert model.window(PROGRAM, at("2026-11-23")) == ("2025-12", "2026-11")
    assert model.earned_in_window(PROGRAM, earned, at("2026-11-23")) == 350
    assert model.earned_in_window(PROGRAM, earned, at("2026-10-31")) == 1000


def test_the_grant_that_crosses_the_threshold_upgrades_at_once():
    start = model.recompute(PROGRAM, model.Standing(), {"2026-11": 999}, at("2026-11-01"))
    crossed = model.recompute(PROGRAM, start.standing, {"2026-11": 1000}, at("2026-11-02"))
    leap = model.recompute(PROGRAM, crossed.standing, {"2026-11": 6000}, at("2026-11-03"))

    assert (start.standing.tier, start.kind) == ("blue", None)
    assert (crossed.standing.tier, crossed.kind, crossed.previous) == ("silver", "upgraded", "blue")
    assert (leap.standing.tier, leap.kind) == ("gold", "upgraded")
    assert model.progress(PROGRAM, "silver", 1000) == {"tier": "silver", "next_tier": "gold",
                                                       "points_to_next_tier": 4000}
    assert model.progress(PROGRAM, "gold", 6000)["next_tier"] is None


def test_a_lapsed_tier_is_kept_through_the_grace_period_with_a_warning_before_the_end():
    earned = {"2025-12": 1200}
    silver = model.recompute(PROGRAM, model.Standing(), earned, at("2025-12-15")).standing
    # December 2025 leaves the window on 2026-12-01: the lapse; grace 30 days; warning 10 before
    assert silver.downgrade_at == date(2026, 12, 31)
    assert silver.warn_at == date(2026, 12, 21)
    assert silver.review_at == date(2026, 12, 21)

    grant_time = model.recompute(PROGRAM, silver, earned, at("2026-12-05"))  # a grant never downgrades
    early = model.recompute(PROGRAM, silver, earned, at("2026-12-20"), review=True)
    warned = model.recompute(PROGRAM, silver, earned, at("2026-12-21"), review=True)
    again = model.recompute(PROGRAM, warned.standing, earned, at("2026-12-22"), review=True)
    down = model.recompute(PROGRAM, again.standing, earned, at("2026-12-31"), review=True)

    assert (grant_time.standing.tier, grant_time.kind) == ("silver", None)
    assert (early.standing.tier, early.kind) == ("silver", None)
    assert (warned.standing.tier, warned.kind) == ("silver", "warned")
    assert warned.standing.review_at == date(2026, 12, 31)
    assert again.kind is None  # warned once
    assert (down.standing.tier, down.kind, down.previous) == ("blue", "downgraded", "silver")
    assert down.standing.review_at is None


def test_earning_again_within_grace_cancels_the_downgrade():
    earned = {"2025-12": 1200}
    silver = model.recompute(PROGRAM, model.Standing(), earned, at("2025-12-15")).standing
    warned = model.recompute(PROGRAM, silver, earned, at("2026-12-21"), review=True).standing
    saved = model.recompute(PROGRAM, warned, {**earned, "2026-12": 1000}, at("2026-12-22"))
    review = model.recompute(PROGRAM, saved.standing, {**earned, "2026-12": 1000}, at("2026-12-31"), review=True)

    assert saved.standing.downgrade_at == date(2027, 12, 31)
    assert (review.standing.tier, review.kind) == ("silver", None)


def test_a_downgrade_goes_to_the_tier_the_window_supports_not_always_the_base():
    earned = {"2025-12": 4000, "2026-06": 1500}
    gold = model.recompute(PROGRAM, model.Standing(), earned, at("2026-06-15")).standing
    down = model.recompute(PROGRAM, gold, earned, gold.downgrade_at and at(gold.downgrade_at.isoformat()), review=True)

    assert gold.tier == "gold"
    assert (down.standing.tier, down.kind) == ("silver", "downgraded")
    assert down.standing.downgrade_at == date(2027, 6, 1) + timedelta(days=30)  # June 2026 leaves in June 2027


@pytest.mark.parametrize(("data", "pointer"), [
    ({"tiers": [{"id": "a", "name": "A", "threshold": 5}]}, "/tiers/0/threshold"),
    ({"tiers": [{"id": "a", "name": "A", "threshold": 0}, {"id": "b", "name": "B", "threshold": 0}]},
     "/tiers/1/threshold"),
    ({"tiers": [{"id": "a", "name": "A", "threshold": 0}, {"id": "a", "name": "B", "threshold": 9}]}, "/tiers/1/id"),
    ({"tiers": [], "qualification": {"grace_days": 5, "warn_days": 6}}, "/qualification/warn_days"),
])
def test_programs_a_schema_cannot_refuse_are_refused_with_the_field_named(data, pointer):
    with pytest.raises(model.InvalidProgram) as raised:
        model.program(data)
    assert raised.value.pointer == pointer


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([f"2026-{m:02d}" for m in range(1, 13)] + ["2025-12", "2027-01"]),
                       st.integers(0, 3000), max_size=8),
       st.integers(0, 400))
def test_the_tier_never_falls_below_what_the_window_supports_and_never_drops_before_grace(earned, day):
    now = at("2026-01-01") + timedelta(days=day)
    standing = model.recompute(PROGRAM, model.Standing(), earned, now).standing
    supported = PROGRAM.qualified(model.earned_in_window(PROGRAM, earned, now))

    assert PROGRAM.rank(standing.tier) >= PROGRAM.rank(supported.id)
    for offset in range(0, 60, 7):  # reviews in the following weeks
        later = now + timedelta(days=offset)
        change = model.recompute(PROGRAM, standing, earned, later, review=True)
        if change.kind == "downgraded":
            assert later.date() >= standing.downgrade_at
            assert PROGRAM.rank(change.standing.tier) >= PROGRAM.rank(
                PROGRAM.qualified(model.earned_in_window(PROGRAM, earned, later)).id)
        standing = change.standing


def test_earnings_taken_back_start_the_grace_period_from_that_day():
    silver = model.recompute(PROGRAM, model.Standing(), {"2026-11": 1200}, at("2026-11-10")).standing
    refunded = model.recompute(PROGRAM, silver, {"2026-11": 700}, at("2026-11-20"))
    later = model.recompute(PROGRAM, refunded.standing, {"2026-11": 700}, at("2026-11-25"))

    assert silver.downgrade_at == date(2027, 11, 1) + timedelta(days=30)
    assert (refunded.standing.tier, refunded.standing.downgrade_at) == ("silver", date(2026, 12, 20))
    assert later.standing.downgrade_at == date(2026, 12, 20)  # the grace is not restarted by each look


def test_the_tier_held_now_is_what_the_recompute_of_a_grant_would_record():
    """model.current_tier (what the pipeline pays on, before the consumer writes the standing)
    agrees with model.recompute after a grant, over random histories."""
    import random

    rng = random.Random(15)
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    for _ in range(2000):
        earned = {m: rng.choice((0, 0, 40, 300, 900, -200)) for m in rng.sample(months, rng.randint(0, 6))}
        held = rng.choice([None, *(t.id for t in PROGRAM.tiers), "removed"])
        when = at(f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        recorded = model.recompute(PROGRAM, model.Standing(tier=held), earned, when).standing.tier
        assert model.current_tier(PROGRAM, held, earned, when).id == recorded, (held, earned, when)
