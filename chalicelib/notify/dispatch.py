"""The ``notifications`` queue: what happened, fanned out to whoever listens.

Producers (the earn pipeline, reversals; redemptions, rewards, tiers) put
``{"type": ..., "id": ..., ...}`` messages on the queue; areas register listeners per type
with :func:`listen`. Delivery is at least once, so listeners dedupe on the message ``id``.
The leaderboard and analytics listen; mail and webhooks register here when they arrive. A known type
with no listener yet is acknowledged; an unknown or malformed message is poison and ends in
the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.jobs import PoisonMessage

TYPES = frozenset({"points.earned", "event.processed", "event.failed", "points.reversed",
                   "points.adjusted", "redemption.fulfilled",
                   "redemption.cancelled", "reward.low_stock", "tier.upgraded", "tier.warned", "tier.downgraded"})

_listeners: dict[str, list[Callable[[dict[str, Any]], None]]] = {}


def listen(message_type: str) -> Callable:
    if message_type not in TYPES:
        raise ValueError(f"unknown notification type {message_type!r}")

    def register(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        _listeners.setdefault(message_type, []).append(fn)
        return fn

    return register


# the areas that listen, imported on first dispatch
LISTENER_MODULES = ("chalicelib.leaderboard.service", "chalicelib.analytics.service")


def _load_listeners() -> None:
    import importlib

    for name in LISTENER_MODULES:
        importlib.import_module(name)


def occurred_at(message: dict[str, Any]) -> datetime:
    """When what the message tells happened (its ``at``), so a redelivery counts on the same
    day and week; a message without one (or a bad one) happened now."""
    try:
        at = datetime.fromisoformat(message["at"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def dispatch(body: str) -> int:
    """Hand one message to its listeners; returns how many ran."""
    try:
        message = json.loads(body)
    except ValueError as e:
        raise PoisonMessage(f"body is not JSON: {e}") from e
    if not isinstance(message, dict) or message.get("type") not in TYPES or not isinstance(message.get("id"), str):
        raise PoisonMessage(f"not a notification: {body[:200]}")
    _load_listeners()
    listeners = _listeners.get(message["type"], [])
    for listener in listeners:
        listener(message)
    return len(listeners)
