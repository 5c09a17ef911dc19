"""The ``notifications`` queue: what happened, fanned out to whoever listens.

Producers (the earn pipeline, reversals; redemptions, rewards, tiers) put
``{"type": ..., "id": ..., ...}`` messages on the queue; areas register listeners per type
with :func:`listen`. Delivery is at least once, so listeners dedupe on the message ``id``.
The leaderboard and analytics listen; mail and webhooks register here when they arrive. A known type
with no listener yet is acknowledged; an unknown or malformed message is poison and ends in
the dead-letter queue.

A listener may also have a batch form (:func:`batched`): the queue consumer hands it a whole
batch first (:func:`batch`), and the messages it reports done are skipped when each message is
then dispatched alone; whatever it leaves (or a batch form that fails) goes through the
listener one message at a time, as before.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.jobs import PoisonMessage
from chalicelib.observability import logger

TYPES = frozenset({"points.earned", "event.processed", "event.failed", "points.reversed",
                   "points.adjusted", "redemption.fulfilled",
                   "redemption.cancelled", "reward.low_stock", "tier.upgraded", "tier.warned", "tier.downgraded"})

_listeners: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
# a listener's batch form: the batch's messages for it -> the ids it handled
_batch_forms: dict[Callable, Callable[[list[dict[str, Any]]], set[str]]] = {}


@dataclass
class _Batch:
    handled: dict[Callable, set[str]] = field(default_factory=dict)  # listener -> ids its batch form did
    scratch: dict[str, Any] = field(default_factory=dict)  # what listeners keep for the rest of the batch


_current: ContextVar[_Batch | None] = ContextVar("batch", default=None)


def listen(message_type: str) -> Callable:
    if message_type not in TYPES:
        raise ValueError(f"unknown notification type {message_type!r}")

    def register(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        _listeners.setdefault(message_type, []).append(fn)
        return fn

    return register


def batched(listener: Callable) -> Callable:
    """Register the decorated function as ``listener``'s batch form."""

    def register(fn: Callable[[list[dict[str, Any]]], set[str]]) -> Callable[[list[dict[str, Any]]], set[str]]:
        _batch_forms[listener] = fn
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


def parse(body: str) -> dict[str, Any]:
    """The notification in ``body``; :class:`PoisonMessage` if it is not one."""
    try:
        message = json.loads(body)
    except ValueError as e:
        raise PoisonMessage(f"body is not JSON: {e}") from e
    if not isinstance(message, dict) or message.get("type") not in TYPES or not isinstance(message.get("id"), str):
        raise PoisonMessage(f"not a notification: {body[:200]}")
    return message


@contextlib.contextmanager
def batch(bodies: list[str]) -> Iterator[None]:
    """Run the batch forms over the batch's messages; within, :func:`dispatch` skips what they did."""
    _load_listeners()
    messages = []
    for body in bodies:
        with contextlib.suppress(PoisonMessage):  # dispatched alone, it goes to the dead-letter queue
            messages.append(parse(body))
    current = _Batch()
    token = _current.set(current)
    try:
        for listener, form in _batch_forms.items():
            mine = [m for m in messages if listener in _listeners.get(m["type"], ())]
            if mine:
                try:
                    current.handled[listener] = form(mine)
                except Exception:  # each message alone, through the listener itself
                    logger.warning("a batch form failed; its messages go one by one",
                                   extra={"listener": listener.__qualname__}, exc_info=True)
        yield
    finally:
        _current.reset(token)


def scratch() -> dict[str, Any]:
    """What listeners keep for the rest of the current batch (read ahead by a batch form);
    outside a batch, an empty dict that nothing keeps."""
    current = _current.get()
    return current.scratch if current is not None else {}


def dispatch(body: str) -> int:
    """Hand one message to its listeners; returns how many ran (or had, in the batch's form)."""
    message = parse(body)
    _load_listeners()
    listeners = _listeners.get(message["type"], [])
    current = _current.get()
    handled = current.handled if current is not None else {}
    for listener in listeners:
        if message["id"] not in handled.get(listener, ()):
            listener(message)
    return len(listeners)
