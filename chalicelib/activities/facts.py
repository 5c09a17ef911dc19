"""What the rules engine knows about a member: built from the profile and the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def member_facts(member_id: str, now: datetime) -> dict[str, Any]:
    """``member.*`` facts. Tiers, segments and counters arrive with their issues; until then
    they are empty (conditions on them simply do not hold)."""
    from chalicelib.ledger import wiring
    from chalicelib.members import store as members

    profile = members.get_profile(member_id)
    if profile is None or profile.status != "active":
        return {}
    book = wiring.store().book(member_id)
    return {
        "id": member_id,
        "tier": None,
        "segments": [],
        "counters": {},
        "days_since_joining": max(0, (now - profile.created_at).days),
        "lifetime_earned": book.lifetime_earned,
        "profile": {key: value for key, value in (("city", profile.city), ("gender", profile.gender),
                                                   ("birth_date", profile.birth_date),
                                                   ("interests", list(profile.interests or [])))
                    if value not in (None, [])},
    }
