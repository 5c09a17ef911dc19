"""The composition root: where the application is assembled.

It is the one module that knows which implementation backs which port, and the only one that
builds adapters. Everything is built lazily, once per Lambda container (``functools.cache``):
importing it costs nothing, and a cold start pays only for what its first request uses (the
DynamoDB ledger store, the pipeline and the consumers import pynamodb transactions, the rules
engine and their areas when first asked for, here and nowhere else).

- **clock**: :func:`now`.
- **ledger**: the DynamoDB store (:func:`ledger_store`) and the service over it (:func:`ledger`).
- **decisions**: the pipeline's claims and the guards they advance (:func:`decisions`: the
  events store in DynamoDB; its guards are the items the ledger's grants condition on).
- **pipeline**: the earn pipeline over the ledger, the decisions, the live rulesets and the
  members' facts.
- **publisher** of domain events: EventBridge (:mod:`chalicelib.bus.publisher`).
- **consumers** of domain events: the name in :data:`chalicelib.resources.CONSUMERS` → the
  function that builds it. A new consumer is a module with a ``consumer()`` and one line here
  (and one in the consumer table, which the infra and the local stack read).
- **areas**, as routes and handlers reach them (:func:`events`, :func:`catalog`,
  :func:`tiers`...): imported on first use, so ``import app`` loads none of them.
- **jobs**: :data:`JOBS`, a job's area → the module that registers its jobs.

Tests replace an adapter with :func:`override` (the in-memory ledger store and the memory
decisions over its guards, a memory publisher) and get the same services over it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from chalicelib import config
from chalicelib.bus import publisher as bus_publisher
from chalicelib.resources import CONSUMERS as CONSUMER_SPECS
from chalicelib.resources import ConsumerSpec

if TYPE_CHECKING:
    from chalicelib.bus.consumer import Consumer
    from chalicelib.events.decisions import Decisions
    from chalicelib.events.pipeline import Pipeline
    from chalicelib.ledger.service import Ledger, LedgerStore


def now() -> datetime:
    return datetime.now(UTC)


_overrides: dict[str, Any] = {}


@contextlib.contextmanager
def override(**adapters: Any) -> Iterator[None]:
    """Within, the named adapters (``ledger_store``, ``decisions``, ``publisher``) are the ones
    given. A memory ledger store comes with memory decisions over its guards unless the
    decisions are given too (the two share the guards, as their DynamoDB adapters do)."""
    if "ledger_store" in adapters and "decisions" not in adapters and hasattr(adapters["ledger_store"], "guards"):
        from chalicelib.events.decisions import MemoryDecisions

        adapters = {**adapters, "decisions": MemoryDecisions(adapters["ledger_store"].guards)}
    previous = dict(_overrides)
    _overrides.update(adapters)
    old_publisher = bus_publisher.use(adapters["publisher"]) if "publisher" in adapters else None
    _forget()
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(previous)
        if old_publisher is not None:
            bus_publisher.use(old_publisher)
        _forget()


def _forget() -> None:
    for cached in (_ledger_store, pipeline, consumer):
        cached.cache_clear()


@functools.cache
def _ledger_store() -> LedgerStore:
    from chalicelib.ledger.dynamo import DynamoLedgerStore  # pynamodb transactions: the first ledger call

    return DynamoLedgerStore()


def ledger_store() -> LedgerStore:
    return _overrides.get("ledger_store") or _ledger_store()


def ledger() -> Ledger:
    from chalicelib.ledger.service import Ledger

    return Ledger(ledger_store(), now, default_expires_after=config.points_expire_after())


def decisions() -> Decisions:
    """The pipeline's claims and guards: the events store's DynamoDB functions."""
    if "decisions" in _overrides:
        return _overrides["decisions"]
    from chalicelib.events import store

    return store


@functools.cache
def pipeline() -> Pipeline:
    from zoneinfo import ZoneInfo

    from chalicelib.activities import service as activities
    from chalicelib.activities.facts import member_facts
    from chalicelib.events.pipeline import Bounds, Pipeline

    return Pipeline(ledger(), decisions(), activities.live, member_facts, ZoneInfo(config.program_timezone()),
                    Bounds(config.max_points_per_grant(), config.max_points_per_event()))


# -- consumers of domain events -------------------------------------------------------------------

def _leaderboard() -> Consumer:
    from chalicelib.leaderboard import service

    return service.consumer()


def _analytics() -> Consumer:
    from chalicelib.analytics import service

    return service.consumer()


def _tiers() -> Consumer:
    from chalicelib.tiers import service

    return service.consumer()


CONSUMERS: dict[str, Callable[[], Consumer]] = {
    "leaderboard": _leaderboard,
    "analytics": _analytics,
    "tiers": _tiers,
}
CONSUMER_SPECS_BY_NAME: dict[str, ConsumerSpec] = {spec.name: spec for spec in CONSUMER_SPECS}


@functools.cache
def consumer(name: str) -> Consumer:
    return CONSUMERS[name]()


def consumer_specs() -> tuple[ConsumerSpec, ...]:
    return CONSUMER_SPECS


# -- the areas, as the entry points reach them ----------------------------------------------------
# Routes and handlers take the services they call from here, on first use: `import app` (every
# function's cold start) then loads the HTTP layer and the handlers, and a request loads the
# areas it serves (the rules engine and the pipeline, rewards, tiers...) when it first calls them.

def events() -> ModuleType:
    """Accept, run, record, look up and reverse events (brings the pipeline and the rules)."""
    from chalicelib.events import service

    return service


def activities() -> ModuleType:
    """Activities as brands manage them, and the live rulesets."""
    from chalicelib.activities import service

    return service


def facts() -> ModuleType:
    """What the rules know of a member (profile, tier, earnings, counters)."""
    from chalicelib.activities import facts

    return facts


def templates() -> ModuleType:
    """The activity templates (and the rules' limits, which a simulation reports)."""
    from chalicelib.rules import templates

    return templates


def limits() -> ModuleType:
    """The rules' limits and budgets (what a member has left of an activity)."""
    from chalicelib.rules import limits

    return limits


def catalog() -> ModuleType:
    from chalicelib.rewards import catalog

    return catalog


def code_pools() -> ModuleType:
    from chalicelib.rewards import codes

    return codes


def redemptions() -> ModuleType:
    from chalicelib.rewards import redemptions

    return redemptions


def wishlist() -> ModuleType:
    from chalicelib.rewards import wishlist

    return wishlist


def tiers() -> ModuleType:
    from chalicelib.tiers import service

    return service


def leaderboard() -> ModuleType:
    from chalicelib.leaderboard import service

    return service


def analytics() -> ModuleType:
    from chalicelib.analytics import service

    return service


def privacy() -> ModuleType:
    """The export of everything held on a member."""
    from chalicelib.members import privacy

    return privacy


def expiry() -> ModuleType:
    """The daily expiry of points: its schedule and its jobs."""
    from chalicelib.ledger import jobs

    return jobs


def _ledger_jobs() -> None:
    expiry()  # its @job functions register


def _tier_jobs() -> None:
    from chalicelib.tiers import service  # noqa: F401


def _ops_jobs() -> None:
    from chalicelib.ops import service  # noqa: F401


def _leaderboard_jobs() -> None:
    leaderboard()  # its @job functions register


# The job table: a job's name starts with its area, and the area's module registers its jobs.
JOBS: dict[str, Callable[[], None]] = {"ledger": _ledger_jobs, "tiers": _tier_jobs, "canary": _ops_jobs,
                                       "leaderboard": _leaderboard_jobs}


@functools.cache
def jobs() -> None:
    """Every job registered (the ``jobs`` queue's function calls this before its first job)."""
    for load in JOBS.values():
        load()
