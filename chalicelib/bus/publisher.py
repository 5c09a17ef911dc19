"""Publishing domain events on the deployment's EventBridge bus.

One ``PutEvents`` call carries up to ten events (EventBridge's limit); each event's ``detail``
is its wire form (:meth:`DomainEvent.to_json`) and its ``detail-type`` its type, which the
consumers' rules match on. EventBridge answers per entry: an entry it refused is reported, not
raised, so a caller can retry what it produced (the producers publish before they record, so
a retry publishes again under the same id and the consumers dedupe).

The publisher is a port: the composition root (:mod:`chalicelib.bootstrap`) chooses it —
EventBridge in a deployment and on the local stack, :class:`MemoryPublisher` where a test wants
to see what was published without AWS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from chalicelib import aws
from chalicelib.resources import DOMAIN_BUS

if TYPE_CHECKING:  # a publisher moves events it never inspects: the catalogue loads with their producers
    from chalicelib.bus.catalogue import DomainEvent

PER_CALL = 10  # PutEvents' limit
K = TypeVar("K", bound=Hashable)


class NotPublished(Exception):
    """Some events could not be published (the caller's operation is retried)."""


class Publisher(Protocol):
    def publish_all(self, events: Mapping[K, DomainEvent]) -> dict[K, str]: ...


def entry(event: DomainEvent) -> dict[str, str]:
    return {"Source": DOMAIN_BUS.source, "DetailType": event.TYPE, "EventBusName": DOMAIN_BUS.name,
            "Detail": json.dumps(event.to_json(), separators=(",", ":"))}


class EventBridgePublisher:
    def publish_all(self, events: Mapping[K, DomainEvent]) -> dict[K, str]:
        """``{key: event}`` → ``{key: why}`` for those not published (ten per call; a call that
        fails leaves its ten unpublished and the others go on)."""
        unsent: dict[K, str] = {}
        keys = list(events)
        for start in range(0, len(keys), PER_CALL):
            chunk = keys[start:start + PER_CALL]
            try:
                reply = aws.client("events").put_events(Entries=[entry(events[key]) for key in chunk])
            except Exception as e:  # reported per event: the caller retries them
                unsent.update({key: f"{type(e).__name__}: {e}"[:500] for key in chunk})
                continue
            if reply.get("FailedEntryCount"):
                for key, result in zip(chunk, reply["Entries"], strict=True):
                    if result.get("ErrorCode"):
                        unsent[key] = f"{result['ErrorCode']}: {result.get('ErrorMessage')}"[:500]
        return unsent


class MemoryPublisher:
    """Keeps what was published, in order (tests)."""

    def __init__(self) -> None:
        self.published: list[DomainEvent] = []
        self._lock = threading.Lock()

    def publish_all(self, events: Mapping[K, DomainEvent]) -> dict[K, str]:
        with self._lock:
            self.published.extend(events.values())
        return {}


_publisher: Publisher = EventBridgePublisher()


def use(publisher: Publisher) -> Publisher:
    """Publish through ``publisher`` from now on (the composition root; tests); returns the previous one."""
    global _publisher
    previous, _publisher = _publisher, publisher
    return previous


def publish_all(events: Mapping[K, DomainEvent]) -> dict[K, str]:
    return _publisher.publish_all(events)


def publish(*events: DomainEvent) -> None:
    """Publish every event, or raise :class:`NotPublished` (then retry the whole operation)."""
    unsent = publish_all(dict(enumerate(events)))
    if unsent:
        raise NotPublished(f"{len(unsent)} domain events not published: {next(iter(unsent.values()))}")
