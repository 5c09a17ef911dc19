"""Tiers' items in the ``standings`` table (:mod:`chalicelib.store.standings` declares them):
the only tiers code that talks to DynamoDB.

- ``PROGRAM / TIERS`` — the program's tier configuration.
- ``TIER#<member> / STANDING`` — the member's standing, written on condition of its
  ``version``; while a review is scheduled it carries the sparse ``due`` index keys
  (``DUE#<yyyy-mm-dd>#<shard>``, member).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import ids
from chalicelib.store.standings import DUE_SHARDS, ProgramItem, StandingItem
from chalicelib.tiers import model

HISTORY = 20  # changes kept on a standing


def definition(*, fresh: bool) -> dict[str, Any] | None:
    """The program's tier configuration as stored (None: never configured)."""
    try:
        return ProgramItem.get(*ProgramItem.key_for(), consistent_read=fresh).definition
    except DoesNotExist:
        return None


def put_definition(body: dict[str, Any], now: datetime) -> None:
    ProgramItem(*ProgramItem.key_for(), definition=body, updated_at=now).save()


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def standing_of(item: StandingItem | None) -> model.Standing:
    """The standing an item holds (no item: a member who never had a tier)."""
    if item is None:
        return model.Standing()
    return model.Standing(item.tier, item.since, _day(item.downgrade_at), _day(item.warn_at), _day(item.warned_for),
                          tuple(item.history or ()))


def get(member_id: str) -> StandingItem | None:
    """The member's standing item as stored now (strongly consistent)."""
    return StandingItem.find(*StandingItem.key_for(member_id))


def get_many(member_ids: list[str]) -> dict[str, StandingItem | None]:
    """Many members' standing items (None: none), strongly consistent, one BatchGetItem per 100."""
    unique = list(dict.fromkeys(member_ids))
    found = {item.member_id: item for item in StandingItem.batch_get(
        [StandingItem.key_for(m) for m in unique], consistent_read=True)}
    return {m: found.get(m) for m in unique}


def _due_keys(member_id: str, review_at: date | None) -> dict[str, str | None]:
    if review_at is None:
        return {"gsi1pk": None, "gsi1sk": None}
    return {"gsi1pk": f"DUE#{review_at.isoformat()}#{ids.shard_of(member_id, DUE_SHARDS)}", "gsi1sk": member_id}


def save(member_id: str, read: StandingItem | None, standing: model.Standing) -> StandingItem | None:
    """Write the standing on condition it is still at the version ``read`` (None: absent); it
    joins the ``due`` index on its review day. The item written, or None if another write came
    first (nothing written)."""
    version = int(read.version) if read else 0
    new = StandingItem(*StandingItem.key_for(member_id), tier=standing.tier, since=standing.since,
                       downgrade_at=_iso(standing.downgrade_at), warn_at=_iso(standing.warn_at),
                       warned_for=_iso(standing.warned_for), history=list(standing.history[-HISTORY:]),
                       version=version + 1, **_due_keys(member_id, standing.review_at))
    condition = StandingItem.pk.does_not_exist() if read is None else StandingItem.version == version
    try:
        new.save(condition=condition)
    except PutError as e:
        if e.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return new


def due(day: str, shard: int, limit: int, cursor: dict[str, Any] | None) -> tuple[list[str], dict[str, Any] | None]:
    """A page of the members whose review falls on ``day`` in ``shard``, and the cursor to the
    rest (None: no more)."""
    page = StandingItem.due.query(f"DUE#{day}#{shard}", limit=limit, last_evaluated_key=cursor)
    members = [key.gsi1sk for key in page]
    return members, page.last_evaluated_key
