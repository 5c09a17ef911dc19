"""Tiers over their store (:mod:`.store`): the program's configuration, each member's standing,
the tier a member holds now, the recompute (a consumer of domain events) and the daily review.

A member's tier is known at once: :func:`member_tier` takes the higher of the tier the standing
records and the one the window's earnings reach (the ledger keeps them with every grant), so
the next event pays the new multiplier whether or not the standing has been written yet. The
standing itself — since when, the lapse, warnings, the ``tier.*`` events — is written by the
``tiers`` consumer from ``points.earned`` and ``points.reversed``, on its own queue, and by
the daily review.

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
from chalicelib.bus.catalogue import DomainEvent, PointsEarned, PointsReversed
from chalicelib.bus.consumer import Consumer, scratch
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
# the batch's earnings in the window: ((first, last) month, member -> month -> points, None: read again)
_earned_ahead: ContextVar[tuple[tuple[str, str], dict[str, dict[str, int] | None]] | None] = \
    ContextVar("earnings_read_ahead", default=None)


@contextmanager
def standings_read_for_batch(member_ids: list[str], at: datetime | None = None) -> Iterator[None]:
    """Within: :func:`member_tier` takes these members' standings and their earnings in the
    window at ``at`` from two batch reads made now, not a GetItem and a Query per event. A
    grant makes the member's earnings read again (:func:`earned`)."""
    known, earned = None, None
    program_ = program()
    if member_ids and program_.tiers:
        try:
            known = store.get_many(member_ids)
            window = model.window(program_, at or bootstrap.now())
            earned = (window, dict(bootstrap.ledger_store().earned_by_months(member_ids, *window)))
        except Exception:  # each event reads its own
            logger.exception("batch read of the standings failed")
    tokens = _read_ahead.set(known), _earned_ahead.set(earned)
    try:
        yield
    finally:
        _read_ahead.reset(tokens[0])
        _earned_ahead.reset(tokens[1])


def earned(member_id: str) -> None:
    """The member was granted points in this batch: their next event reads the earnings again."""
    known = _earned_ahead.get()
    if known is not None and member_id in known[1]:
        known[1][member_id] = None


# the tiers consumer's batch copies (bus.consumer.scratch), as the pipeline's are in the ContextVars above
STANDINGS, EARNINGS = "tiers.standings", "tiers.earnings"


def _standings_ahead() -> dict[str, StandingItem | None] | None:
    known = _read_ahead.get()
    return known if known is not None else scratch().get(STANDINGS)


def _earnings_ahead() -> tuple[tuple[str, str], dict[str, dict[str, int] | None]] | None:
    known = _earned_ahead.get()
    return known if known is not None else scratch().get(EARNINGS)


def _read(member_id: str, *, fresh: bool = False) -> StandingItem | None:
    """The member's standing item: the batch's copy unless ``fresh`` (which then replaces it)."""
    known = _standings_ahead()
    if known is not None and member_id in known and not fresh:
        return known[member_id]
    item = store.get(member_id)
    if known is not None and member_id in known:
        known[member_id] = item
    return item


def standing(member_id: str) -> model.Standing:
    return store.standing_of(store.get(member_id))


def earned_by_month(member_id: str, program_: model.Program, at: datetime) -> dict[str, int]:
    """The member's earnings per month of the window at ``at`` (the batch's copy when it holds them)."""
    window = model.window(program_, at)
    known = _earnings_ahead()
    if known is not None and known[0] == window and known[1].get(member_id) is not None:
        return known[1][member_id]
    found = bootstrap.ledger_store().earned_by_month(member_id, *window)
    if known is not None and known[0] == window and member_id in known[1]:
        known[1][member_id] = found
    return found


def member_tier(member_id: str, at: datetime | None = None) -> tuple[str | None, Any]:
    """(tier id, its earning multiplier) the member holds now (see the module docstring);
    (None, None) without tiers."""
    program_ = program()
    if not program_.tiers:
        return None, None
    at = at or bootstrap.now()
    item = _read(member_id)
    tier = model.current_tier(program_, item.tier if item else None, earned_by_month(member_id, program_, at), at)
    return tier.id, tier.multiplier


def progress(member_id: str, at: datetime) -> dict[str, Any]:
    """``tier``, ``next_tier``, ``points_to_next_tier`` and the window's ``qualifying_points``."""
    program_ = program()
    if not program_.tiers:
        return {**model.progress(program_, None, 0), "qualifying_points": None}
    by_month = earned_by_month(member_id, program_, at)
    tier, earned_ = model.current_tier(program_, standing(member_id).tier, by_month, at), \
        model.earned_in_window(program_, by_month, at)
    return {**model.progress(program_, tier.id, earned_), "qualifying_points": earned_}


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
            known = _standings_ahead()
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


def _moved(event: PointsEarned | PointsReversed) -> None:
    """Earnings moved: the standing follows (an upgrade recorded, a lapse scheduled). Idempotent:
    a redelivery finds the standing already there and writes nothing."""
    recompute(event.member_id, bootstrap.now())


def prefetch(events: list[PointsEarned | PointsReversed]) -> set[str]:
    """Read the standings and the window's earnings of a batch's members in one BatchGetItem
    each (not a GetItem and a Query per event): :func:`recompute` starts from these. The
    earnings were read after every grant the batch reports; a standing is written on condition
    of its version, so a stale copy costs a retry, never a wrong tier. Handles no event itself."""
    program_ = program()
    if program_.tiers:
        members = [event.member_id for event in events]
        window = model.window(program_, bootstrap.now())
        scratch()[STANDINGS] = store.get_many(members)
        scratch()[EARNINGS] = (window, dict(bootstrap.ledger_store().earned_by_months(members, *window)))
    return set()


def consumer() -> Consumer:
    """Tiers as a consumer of domain events (see chalicelib.bootstrap)."""
    handlers: dict[type[DomainEvent], Any] = {PointsEarned: _moved, PointsReversed: _moved}
    return Consumer("tiers", handlers, prepare=prefetch)


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
