"""Tiers against the stores: the program's configuration, each member's standing, the
recompute after a grant and the daily review.

The daily review fans out like expiry: one job per (due day, shard) on the ``jobs`` queue,
each a page of members from the sparse ``due`` index, so no run outlives its Lambda.

Reads per recompute: the configuration (cached per container for a minute), the standing
(one GetItem, or the events batch's copy: :func:`standings_read_for_batch`) and the earnings
in the window (one Query of the member's ``EARNED#`` months in the ledger). A standing is
written only when it changed, on condition of the version read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import bootstrap, errors, queues
from chalicelib.bus import catalogue, publisher
from chalicelib.ids import shard_of
from chalicelib.jobs import job
from chalicelib.observability import logger
from chalicelib.store.standings import DUE_SHARDS, ProgramItem, StandingItem
from chalicelib.tiers import model

CACHE_SECONDS = 60
REVIEW_LOOKBACK_DAYS = 7  # a review missed for up to a week is caught up
REVIEW_PAGE = 100
ATTEMPTS = 5

_cache: dict[str, Any] = {}


def program(*, fresh: bool = False) -> model.Program:
    """The program's tiers (none configured: an empty program, every tier None)."""
    if not fresh and _cache.get("at", 0) > time.monotonic() - CACHE_SECONDS:
        return _cache["program"]
    try:
        definition = ProgramItem.get(*ProgramItem.key_for(), consistent_read=fresh).definition
    except DoesNotExist:
        definition = {"tiers": []}
    value = model.program(definition)
    _cache.update(at=time.monotonic(), program=value, definition=definition)
    return value


def definition() -> dict[str, Any]:
    program(fresh=True)
    settings = {**model.DEFAULTS, **(_cache["definition"].get("qualification") or {})}
    return {"tiers": _cache["definition"].get("tiers", []), "qualification": settings}


def configure(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Replace the program's tiers (admin). Members move on their next grant or review."""
    try:
        model.program(body)
    except model.InvalidProgram as e:
        raise errors.ValidationFailed(str(e), details={"pointer": e.pointer, "rule": "tiers"}) from None
    ProgramItem(*ProgramItem.key_for(), definition=body, updated_at=now).save()
    _cache.clear()
    return definition()


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _standing(item: StandingItem | None) -> model.Standing:
    if item is None:
        return model.Standing()
    return model.Standing(item.tier, item.since, _day(item.downgrade_at), _day(item.warn_at), _day(item.warned_for),
                          tuple(item.history or ()))


def _item(member_id: str) -> StandingItem | None:
    try:
        return StandingItem.get(*StandingItem.key_for(member_id), consistent_read=True)
    except DoesNotExist:
        return None


_read_ahead: ContextVar[dict[str, StandingItem | None] | None] = ContextVar("standings_read_ahead", default=None)


@contextmanager
def standings_read_for_batch(member_ids: list[str]) -> Iterator[None]:
    """Within: :func:`member_tier` and the first try of :func:`recompute` take these members'
    standings from one BatchGetItem made now, not two GetItem calls per event. A standing is
    written on condition of the version read, so a stale one costs a retry, never a wrong
    tier; what :func:`recompute` writes or reads again replaces the batch's copy."""
    known = None
    if member_ids and program().tiers:
        try:
            ids = list(dict.fromkeys(member_ids))
            found = {item.member_id: item for item in StandingItem.batch_get(
                [StandingItem.key_for(m) for m in ids], consistent_read=True)}
            known = {m: found.get(m) for m in ids}
        except Exception:  # each event reads its own
            logger.exception("batch read of the standings failed")
    token = _read_ahead.set(known)
    try:
        yield
    finally:
        _read_ahead.reset(token)


def _read(member_id: str, *, fresh: bool = False) -> StandingItem | None:
    """The member's standing item: the batch's copy unless ``fresh`` (which then replaces it)."""
    known = _read_ahead.get()
    if known is not None and member_id in known and not fresh:
        return known[member_id]
    item = _item(member_id)
    if known is not None and member_id in known:
        known[member_id] = item
    return item


def standing(member_id: str) -> model.Standing:
    return _standing(_item(member_id))


def earned_by_month(member_id: str, program_: model.Program, at: datetime) -> dict[str, int]:
    first, last = model.window(program_, at)
    return bootstrap.ledger_store().earned_by_month(member_id, first, last)


def member_tier(member_id: str) -> tuple[str | None, Any]:
    """(tier id, its earning multiplier) for the rules engine; (None, None) without tiers."""
    program_ = program()
    if not program_.tiers:
        return None, None
    item = _read(member_id)
    tier = program_.get(item.tier if item else None) or program_.tiers[0]
    return tier.id, tier.multiplier


def progress(member_id: str, at: datetime) -> dict[str, Any]:
    """``tier``, ``next_tier``, ``points_to_next_tier`` and the window's ``qualifying_points``."""
    program_ = program()
    if not program_.tiers:
        return {**model.progress(program_, None, 0), "qualifying_points": None}
    earned = model.earned_in_window(program_, earned_by_month(member_id, program_, at), at)
    return {**model.progress(program_, standing(member_id).tier, earned), "qualifying_points": earned}


def _due_keys(member_id: str, review_at: date | None) -> dict[str, str | None]:
    if review_at is None:
        return {"gsi1pk": None, "gsi1sk": None}
    return {"gsi1pk": f"DUE#{review_at.isoformat()}#{shard_of(member_id, DUE_SHARDS)}", "gsi1sk": member_id}


def recompute(member_id: str, at: datetime, *, review: bool = False) -> model.Change | None:
    """Bring the member's standing up to date; send ``tier.*`` notifications for what changed.
    None when the program has no tiers."""
    program_ = program()
    if not program_.tiers:
        return None
    for attempt in range(ATTEMPTS):
        item = _read(member_id, fresh=attempt > 0)
        current = _standing(item)
        change = model.recompute(program_, current, earned_by_month(member_id, program_, at), at, review=review)
        if change.standing == current:
            return change
        saved = _save(member_id, item, change.standing)
        if saved is not None:
            known = _read_ahead.get()
            if known is not None and member_id in known:
                known[member_id] = saved
            if change.kind:
                _notify(member_id, change, at)
            return change
    raise errors.ServiceUnavailable("The member's tier changed concurrently too often; try again.")


def _save(member_id: str, item: StandingItem | None, standing_: model.Standing) -> StandingItem | None:
    """Write the standing on condition of the version read: the item written, or None if
    another write came first."""
    version = int(item.version) if item else 0
    new = StandingItem(*StandingItem.key_for(member_id), tier=standing_.tier, since=standing_.since,
                       downgrade_at=_iso(standing_.downgrade_at), warn_at=_iso(standing_.warn_at),
                       warned_for=_iso(standing_.warned_for), history=list(standing_.history[-20:]),
                       version=version + 1, **_due_keys(member_id, standing_.review_at))
    condition = StandingItem.pk.does_not_exist() if item is None else StandingItem.version == version
    try:
        new.save(condition=condition)
    except PutError as e:
        if e.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return new


def _notify(member_id: str, change: model.Change, at: datetime) -> None:
    standing_ = change.standing
    about = {"member_id": member_id, "tier": standing_.tier, "previous_tier": change.previous, "at": at}
    if change.kind == "warned":
        published = catalogue.TierWarned(id=f"tier.warned:{member_id}:{standing_.downgrade_at.isoformat()}",
                                         downgrade_at=standing_.downgrade_at, **about)
    else:
        kind = catalogue.TierUpgraded if change.kind == "upgraded" else catalogue.TierDowngraded
        published = kind(id=f"tier.{change.kind}:{member_id}:{standing_.tier}:{at.isoformat()}", **about)
    publisher.publish(published)


def start_review(today: date) -> int:
    """The daily schedule: queue one job per (due day, shard) for the last week of days (a
    missed run is caught up). Returns how many."""
    if not program(fresh=True).tiers:
        return 0
    sent = 0
    for back in range(REVIEW_LOOKBACK_DAYS, -1, -1):
        day = (today - timedelta(days=back)).isoformat()
        for shard in range(DUE_SHARDS):
            queues.send("jobs", {"job": "tiers.review_due", "args": {"day": day, "shard": shard}})
            sent += 1
    return sent


@job("tiers.review_due")
def review_due(args: dict[str, Any]) -> dict[str, int]:
    """Review one page of the members due on ``day`` in ``shard``: warn or downgrade them, or
    reschedule those who earned again. The rest of the shard goes on as a message of its own."""
    return review_page(args, datetime.now(UTC))


def review_page(args: dict[str, Any], at: datetime) -> dict[str, int]:
    page = StandingItem.due.query(f"DUE#{args['day']}#{int(args['shard'])}", limit=REVIEW_PAGE,
                                  last_evaluated_key=args.get("cursor"))
    counts = {"reviewed": 0, "warned": 0, "downgraded": 0}
    for key in page:
        change = recompute(key.gsi1sk, at, review=True)
        counts["reviewed"] += 1
        if change is not None and change.kind in counts:
            counts[change.kind] += 1
    if page.last_evaluated_key:
        queues.send("jobs", {"job": "tiers.review_due", "args": {**args, "cursor": page.last_evaluated_key}})
    return counts
