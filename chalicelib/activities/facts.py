"""What the rules engine knows about a member: built from the profile and the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

_profiles: ContextVar[dict[str, Any] | None] = ContextVar("batch_profiles", default=None)


@contextmanager
def profiles_read_for_batch(member_ids: list[str]) -> Iterator[None]:
    """Within: :func:`member_facts` takes these members' profiles from one BatchGetItem made
    now, not one GetItem per event (a profile as of the batch's start, as its ruleset)."""
    from chalicelib.members import store as members
    from chalicelib.observability import logger

    known = None
    try:
        found = members.profiles(member_ids)
        known = {m: found.get(m) for m in member_ids}
    except Exception:  # each event reads its member's profile instead
        logger.exception("batch read of the profiles failed")
    token = _profiles.set(known)
    try:
        yield
    finally:
        _profiles.reset(token)


def member_facts(member_id: str, now: datetime) -> dict[str, Any]:
    """``member.*`` facts: profile, tier (and its earning multiplier), lifetime earnings.
    Segments arrive with their issue; until then they are empty (conditions on them simply do
    not hold). Counters: :func:`counter_facts`."""
    from chalicelib.ledger import wiring
    from chalicelib.members import store as members
    from chalicelib.tiers import service as tiers

    known = _profiles.get()
    profile = known[member_id] if known is not None and member_id in known else members.get_profile(member_id)
    if profile is None or profile.status != "active":
        return {}
    lifetime_earned = wiring.store().lifetime_earned(member_id)
    tier, multiplier = tiers.member_tier(member_id)
    return {
        "id": member_id,
        "tier": tier,
        "tier_multiplier": multiplier,
        "segments": [],
        "counters": {},
        "days_since_joining": max(0, (now - profile.created_at).days),
        "lifetime_earned": lifetime_earned,
        "profile": {key: value for key, value in (("city", profile.city), ("gender", profile.gender),
                                                   ("birth_date", profile.birth_date),
                                                   ("interests", list(profile.interests or [])))
                    if value not in (None, [])},
    }


def counter_facts(brand_id: str, member_id: str, event: dict[str, Any], at: datetime) -> tuple[dict, dict]:
    """(``member.counters/totals/streaks`` facts, milestone stats) as the member's next event of
    ``event``'s type would see them: for a simulation, which stores nothing."""
    from zoneinfo import ZoneInfo

    from chalicelib import config
    from chalicelib.ledger import wiring
    from chalicelib.rules import counters

    key = counters.key(brand_id, member_id, event["type"])
    _, before = wiring.store().read_guards([key])[key]
    after = counters.advance(before, event, at, ZoneInfo(config.program_timezone()))
    return counters.facts({event["type"]: before}, {event["type"]: after}), counters.stats(before, after)
