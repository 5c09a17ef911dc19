"""Tiers over their store (:mod:`.store`): the program's configuration, each member's standing, the
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

from chalicelib import bootstrap, errors, queues
from chalicelib.bus import catalogue, publisher
from chalicelib.jobs import job
from chalicelib.observability import logger
from chalicelib.store.standings import DUE_SHARDS, StandingItem
from chalicelib.tiers import model, store

CACHE_SECONDS = 60
REVIEW_LOOKBACK_DAYS = 7  # a review missed for up to a week is caught up
REVIEW_PAGE = 100
ATTEMPTS = 5

_cache: dict[str, Any] = {}


def program(*, fresh: bool = False) -> model.Program:
    """The program's tiers (none configured: an empty program, every tier None)."""
    if not fresh and _cache.get("at", 0) > time.monotonic() - CACHE_SECONDS:
        return _cache["program"]
    definition = store.definition(fresh=fresh) or {"tiers": []}
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
    store.put_definition(body, now)
    _cache.clear()
    return definition()


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
            known = store.get_many(member_ids)
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
    item = store.get(member_id)
    if known is not None and member_id in known:
        known[member_id] = item
    return item


def standing(member_id: str) -> model.Standing:
    return store.standing_of(store.get(member_id))


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


def recompute(member_id: str, at: datetime, *, review: bool = False) -> model.Change | None:
    """Bring the member's standing up to date; send ``tier.*`` notifications for what changed.
    None when the program has no tiers."""
    program_ = program()
    if not program_.tiers:
        return None
    for attempt in range(ATTEMPTS):
        item = _read(member_id, fresh=attempt > 0)
        current = store.standing_of(item)
        change = model.recompute(program_, current, earned_by_month(member_id, program_, at), at, review=review)
        if change.standing == current:
            return change
        saved = store.save(member_id, item, change.standing)
        if saved is not None:
            known = _read_ahead.get()
            if known is not None and member_id in known:
                known[member_id] = saved
            if change.kind:
                _notify(member_id, change, at)
            return change
    raise errors.ServiceUnavailable("The member's tier changed concurrently too often; try again.")


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
    members, cursor = store.due(args["day"], int(args["shard"]), REVIEW_PAGE, args.get("cursor"))
    counts = {"reviewed": 0, "warned": 0, "downgraded": 0}
    for member_id in members:
        change = recompute(member_id, at, review=True)
        counts["reviewed"] += 1
        if change is not None and change.kind in counts:
            counts[change.kind] += 1
    if cursor:
        queues.send("jobs", {"job": "tiers.review_due", "args": {**args, "cursor": cursor}})
    return counts
