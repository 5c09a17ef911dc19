"""What the rules engine knows about a member: built from the profile and the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import bootstrap, config
from chalicelib.members import store as members
from chalicelib.observability import logger
from chalicelib.rules import counters
from chalicelib.tiers import service as tiers

_batch: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar("batch_member_reads", default=None)


@contextmanager
def read_for_batch(member_ids: list[str]) -> Iterator[None]:
    """Within: :func:`member_facts` takes these members' profiles, lifetime earnings and tier
    standings from one BatchGetItem each, made now, not three reads per event (as of the
    batch's start, as its ruleset; a later event of the same member in the batch reads what the
    earlier ones earned: :func:`earned`). Whatever batch read fails is read per event instead."""
    known: dict[str, dict[str, Any]] = {}
    for name, read in (("profiles", members.profiles), ("lifetimes", bootstrap.ledger_store().lifetimes)):
        try:
            found = read(member_ids)
            known[name] = {m: found.get(m) for m in member_ids}
        except Exception:
            logger.exception(f"batch read of the {name} failed")
    token = _batch.set(known)
    try:
        with tiers.standings_read_for_batch(member_ids, bootstrap.now()):
            yield
    finally:
        _batch.reset(token)


def _known(name: str, member_id: str) -> tuple[bool, Any]:
    batch = _batch.get()
    table = batch.get(name) if batch is not None else None
    if table is None or member_id not in table:
        return False, None
    return True, table[member_id]


def earned(member_id: str) -> None:
    """An event of the batch granted the member points: the next one reads their lifetime
    earnings (and their earnings in the tier window) afresh (adding the grant to the batch's
    copy would count twice a redelivered event's grants, already in the copy)."""
    tiers.earned(member_id)
    batch = _batch.get()
    lifetimes = batch.get("lifetimes") if batch is not None else None
    if lifetimes is not None and member_id in lifetimes:
        lifetimes[member_id] = None


def member_facts(member_id: str, now: datetime) -> dict[str, Any]:
    """``member.*`` facts: profile, tier (and its earning multiplier), lifetime earnings.
    Segments arrive with their issue; until then they are empty (conditions on them simply do
    not hold). Counters: :func:`counter_facts`."""
    read, profile = _known("profiles", member_id)
    profile = profile if read else members.get_profile(member_id)
    if profile is None or profile.status != "active":
        return {}
    read, lifetime_earned = _known("lifetimes", member_id)
    if not read or lifetime_earned is None:
        lifetime_earned = bootstrap.ledger_store().lifetime_earned(member_id)
    tier, multiplier = tiers.member_tier(member_id, now)
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
    key = counters.key(brand_id, member_id, event["type"])
    _, before = bootstrap.decisions().read_guards([key])[key]
    after = counters.advance(before, event, at, ZoneInfo(config.program_timezone()))
    return counters.facts({event["type"]: before}, {event["type"]: after}), counters.stats(before, after)
