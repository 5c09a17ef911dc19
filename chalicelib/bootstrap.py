"""The composition root: where the application is assembled.

It is the one module that knows which implementation backs which port, and the only one that
builds adapters; everything is built lazily, once per Lambda container (``functools.cache``),
so importing it costs nothing and a cold start pays only for what its first request uses.

- **consumers** of domain events: the name in :data:`chalicelib.resources.CONSUMERS` → the
  function that builds it. A new consumer is a module with a ``consumer()`` and one line here
  (and one in the consumer table, which the infra and the local stack read).
- **publisher** of domain events: EventBridge (:mod:`chalicelib.bus.publisher`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from chalicelib.analytics import service as analytics
from chalicelib.bus.consumer import Consumer
from chalicelib.leaderboard import service as leaderboard
from chalicelib.resources import CONSUMERS as CONSUMER_SPECS
from chalicelib.resources import ConsumerSpec

CONSUMERS: dict[str, Callable[[], Consumer]] = {
    "leaderboard": leaderboard.consumer,
    "analytics": analytics.consumer,
}


@functools.cache
def consumer(name: str) -> Consumer:
    return CONSUMERS[name]()


CONSUMER_SPECS_BY_NAME: dict[str, ConsumerSpec] = {spec.name: spec for spec in CONSUMER_SPECS}


def consumer_specs() -> tuple[ConsumerSpec, ...]:
    return CONSUMER_SPECS
