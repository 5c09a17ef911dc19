"""Managing activities and serving the live ruleset.

Every create and update is checked by compiling it (the rules engine's own checks, with JSON
pointers) before anything is stored, then stored as a new immutable version. The compiled
ruleset of a brand is cached per container and reloaded when the brand's ruleset version
moves (one small read per check).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from chalicelib import errors
from chalicelib.activities import store
from chalicelib.ids import new_id
from chalicelib.rules.activity import Activity, compile_activity
from chalicelib.rules.engine import Ruleset
from chalicelib.store.rules import ActivityHead

RULESET_CHECK_SECONDS = 5.0  # how stale a container's ruleset may be, at most


def _compiled(brand_id: str, activity_id: str, version: int, definition: dict) -> Activity:
    return compile_activity(definition, activity_id=activity_id, version=version, brand_id=brand_id)


def create(brand_id: str, definition: dict, now: datetime) -> ActivityHead:
    activity_id = new_id()
    definition = {"status": "draft", "channel": "other", **definition}
    _compiled(brand_id, activity_id, 1, definition)  # refuses what cannot work, naming the field
    head = ActivityHead(*ActivityHead.key_for(brand_id, activity_id), version=1, definition=definition,
                        status=definition["status"], channel=definition["channel"], name=definition["name"],
                        created_at=now, updated_at=now)
    return store.save(head, definition, now)


def get(brand_id: str, activity_id: str) -> ActivityHead:
    head = store.get(brand_id, activity_id)
    if head is None:
        raise errors.NotFound("No such activity.", details={"activity_id": activity_id})
    return head


def update(brand_id: str, activity_id: str, definition: dict, now: datetime) -> ActivityHead:
    """Replace the activity with a new version (the old one stays, for the grants it paid)."""
    head = get(brand_id, activity_id)
    definition = {"status": head.status, "channel": head.channel, **definition}
    if definition == head.definition:
        return head  # nothing changed: no new version (a retried PUT is harmless)
    _compiled(brand_id, activity_id, head.version + 1, definition)
    head.version, head.definition, head.updated_at = head.version + 1, definition, now
    head.status, head.channel, head.name = definition["status"], definition["channel"], definition["name"]
    return store.save(head, definition, now)


def archive(brand_id: str, activity_id: str, now: datetime) -> ActivityHead:
    """Stop the activity for good (a new version with status ``archived``); idempotent."""
    head = get(brand_id, activity_id)
    if head.status == "archived":
        return head
    return update(brand_id, activity_id, {**head.definition, "status": "archived"}, now)


def listed(brand_id: str, *, channel: str | None = None, status: str | None = None) -> list[ActivityHead]:
    heads = [h for h in store.heads(brand_id) if (channel is None or h.channel == channel)
             and (status is None or h.status == status)]
    return sorted(heads, key=lambda h: (h.created_at, h.activity_id))


class _RulesetCache:
    """Compiled rulesets per brand, per container, refreshed when the brand's version moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, float, Ruleset]] = {}

    def get(self, brand_id: str, max_age: float = RULESET_CHECK_SECONDS) -> Ruleset:
        """The brand's compiled ruleset, its version checked if the last check is older than
        ``max_age`` seconds (the earn pipeline passes 0: an activity counts from the moment
        its change is stored, for one small read per event)."""
        entry = self._entries.get(brand_id)
        if entry is not None and time.monotonic() - entry[1] < max_age:
            return entry[2]
        version = store.ruleset_version(brand_id)
        if entry is not None and entry[0] == version:
            with self._lock:
                self._entries[brand_id] = (version, time.monotonic(), entry[2])
            return entry[2]
        active = [_compiled(brand_id, h.activity_id, int(h.version), h.definition)
                  for h in store.heads(brand_id) if h.status == "active"]
        ruleset = Ruleset(active, version)
        with self._lock:
            self._entries[brand_id] = (version, time.monotonic(), ruleset)
        return ruleset

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


rulesets = _RulesetCache()
_batch_started: ContextVar[float | None] = ContextVar("ruleset_batch_started", default=None)


@contextmanager
def one_check_per_batch() -> Iterator[None]:
    """Within: :func:`live` checks each brand's ruleset version once, for the batch's first
    event of that brand, instead of for every event."""
    token = _batch_started.set(time.monotonic())
    try:
        yield
    finally:
        _batch_started.reset(token)


def live(brand_id: str) -> Ruleset:
    """The ruleset the earn pipeline applies: every change stored before now counts, or
    within :func:`one_check_per_batch` every change stored before the batch began (one small
    read per brand and batch, not per event)."""
    started = _batch_started.get()
    return rulesets.get(brand_id, max_age=0 if started is None else time.monotonic() - started)


def simulate(brand_id: str, event: dict[str, Any], member: dict[str, Any], at: datetime,
             draft: dict | None = None, stats: dict | None = None):
    """Evaluate ``event`` against the live ruleset, or against ``draft`` alone (as if active)."""
    if draft is not None:
        ruleset = Ruleset([_compiled(brand_id, "draft", 0, {**draft, "status": "active"})], "draft")
    else:
        ruleset = rulesets.get(brand_id)
    return ruleset.evaluate(event, member, at, explain=True, stats=stats)
