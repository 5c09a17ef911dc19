"""A consumer of domain events: what it does with each type, run over one SQS batch of its queue.

Each consumer has its own queue (a rule on the bus delivers the types it reads, see
:data:`chalicelib.resources.CONSUMERS`), so it retries, backs off and dead-letters alone. A
batch goes through the consumer in two steps:

1. its batch form, if it has one (``prepare``), sees every event of the batch at once and
   returns the ids it handled (analytics counts a batch in one transaction) or reads ahead
   what the handlers will need (the leaderboard's scores, kept in :func:`scratch`);
2. every event the batch form did not handle goes through the handler of its type, alone: a
   failing event is retried alone, its batch-mates are done.

A body that is not a domain event of the catalogue is poison: it goes to the dead-letter queue
at once, with why. An event of a type the consumer has no handler for is acknowledged.
Delivery is at least once; handlers dedupe on the event's ``id`` (applied markers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from chalicelib.bus.catalogue import DomainEvent
from chalicelib.observability import logger

Handler = Callable[[Any], Any]  # a DomainEvent subclass -> anything
BatchForm = Callable[[list[Any]], set[str]]  # the batch's events it reads -> the ids it handled


@dataclass(frozen=True)
class Consumer:
    name: str
    handlers: Mapping[type[DomainEvent], Handler]
    prepare: BatchForm | None = None

    def handler_for(self, event: DomainEvent) -> Handler | None:
        return self.handlers.get(type(event))

    @property
    def types(self) -> frozenset[str]:
        return frozenset(cls.TYPE for cls in self.handlers)


_scratch: ContextVar[dict[str, Any] | None] = ContextVar("consumer_scratch", default=None)


def scratch() -> dict[str, Any]:
    """What a consumer keeps for the rest of the current batch (read ahead by its batch form);
    outside a batch, an empty dict that nothing keeps."""
    current = _scratch.get()
    return current if current is not None else {}


@dataclass
class Batch:
    """One SQS batch as the consumer sees it: ``handled`` are the ids the batch form did."""

    consumer: Consumer
    handled: set[str] = field(default_factory=set)

    def handle(self, event: DomainEvent) -> bool:
        """Run the event's handler (unless the batch form did it); False if the consumer has none."""
        handler = self.consumer.handler_for(event)
        if handler is None:
            return False
        if event.id not in self.handled:
            handler(event)
        return True


@contextmanager
def batch(consumer: Consumer, events: list[DomainEvent]) -> Iterator[Batch]:
    """The batch form over ``events`` (the ones this consumer handles), then each event through
    :meth:`Batch.handle` within; a batch form that fails leaves every event to its handler."""
    token = _scratch.set({})
    try:
        current = Batch(consumer)
        mine = [event for event in events if consumer.handler_for(event) is not None]
        if consumer.prepare is not None and mine:
            try:
                current.handled = set(consumer.prepare(mine))
            except Exception:
                logger.warning("a batch form failed; its events go one by one",
                               extra={"consumer": consumer.name}, exc_info=True)
        yield current
    finally:
        _scratch.reset(token)
