"""The domain-event consumers' entry points: one SQS-triggered function per consumer queue.

Thin: parse each record (EventBridge's envelope around a domain event), run the consumer's
batch form, then each event through its handler; a failing event is retried alone and, after
its queue's receives, dead-lettered in that consumer's own dead-letter queue. Poison (not an
event of the catalogue) goes there at once, with why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.bus import catalogue
from chalicelib.bus import consumer as consumers
from chalicelib.handlers.sqs import poison, process_batch
from chalicelib.jobs import PoisonMessage
from chalicelib.observability import logger
from chalicelib.resources import ConsumerSpec


def _parsed(records: list[dict[str, Any]]) -> dict[str, catalogue.DomainEvent]:
    found = {}
    for record in records:
        try:
            found[record.get("messageId", "")] = catalogue.parse(record.get("body", ""))
        except PoisonMessage:
            continue  # handled alone below: to the dead-letter queue with its reason
    return found


def consume(spec: ConsumerSpec, consumer: consumers.Consumer, event) -> dict[str, Any]:
    """One SQS batch of ``spec``'s queue through ``consumer`` → ``{"batchItemFailures": [...]}``."""
    parsed = _parsed(event.to_dict().get("Records", []))
    with consumers.batch(consumer, list(parsed.values())) as current:
        def one(record) -> None:
            found = parsed.get(record.message_id)
            try:
                domain_event = found if found is not None else catalogue.parse(record.body)
            except PoisonMessage as e:
                poison(spec.queue.logical_name, record, e)
                return
            try:
                if not current.handle(domain_event):
                    logger.info("event not for this consumer", extra={"consumer": spec.name, "type": domain_event.TYPE})
            except Exception as e:
                logger.exception("consumer failed", extra={"consumer": spec.name, "message_id": record.message_id,
                                                           "event_id": domain_event.id, "reason": str(e)[:500]})
                raise

        return process_batch(event, one)


def handler(spec: ConsumerSpec, consumer: Callable[[], consumers.Consumer]) -> Callable[[Any], dict[str, Any]]:
    """The Lambda handler of ``spec``'s function (named as app.py exports it)."""

    def run(event) -> dict[str, Any]:
        return consume(spec, consumer(), event)

    run.__name__ = run.__qualname__ = spec.handler
    return run
