"""The composition root: where the application is assembled.

It is the one module that knows which implementation backs which port, and the only one that
builds adapters. Everything is built lazily, once per Lambda container (``functools.cache``):
importing it costs nothing, and a cold start pays only for what its first request uses (the
DynamoDB ledger store, the pipeline and the consumers import pynamodb transactions, the rules
engine and their areas when first asked for, here and nowhere else).

- **clock**: :func:`now`.
- **ledger**: the DynamoDB store (:func:`ledger_store`) and the service over it (:func:`ledger`).
- **pipeline**: the earn pipeline over the ledger, the live rulesets and the members' facts.
- **publisher** of domain events: EventBridge (:mod:`chalicelib.bus.publisher`).
- **consumers** of domain events: the name in :data:`chalicelib.resources.CONSUMERS` → the
  function that builds it. A new consumer is a module with a ``consumer()`` and one line here
  (and one in the consumer table, which the infra and the local stack read).

Tests replace an adapter with :func:`override` (the in-memory ledger store, a memory
publisher) and get the same services over it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib import config
from chalicelib.bus import publisher as bus_publisher
from chalicelib.resources import CONSUMERS as CONSUMER_SPECS
from chalicelib.resources import ConsumerSpec

if TYPE_CHECKING:
    from chalicelib.bus.consumer import Consumer
    from chalicelib.events.pipeline import Pipeline
    from chalicelib.ledger.service import Ledger, LedgerStore


def now() -> datetime:
    return datetime.now(UTC)


_overrides: dict[str, Any] = {}


@contextlib.contextmanager
def override(**adapters: Any) -> Iterator[None]:
    """Within, the named adapters (``ledger_store``, ``publisher``) are the ones given."""
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


@functools.cache
def pipeline() -> Pipeline:
    from zoneinfo import ZoneInfo

    from chalicelib.activities import service as activities
    from chalicelib.activities.facts import member_facts
    from chalicelib.events.pipeline import Bounds, Pipeline

    return Pipeline(ledger(), activities.live, member_facts, ZoneInfo(config.program_timezone()),
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
