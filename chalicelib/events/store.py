"""Events' items in the ``events`` table (:mod:`chalicelib.store.events` declares them): the
only events code that talks to DynamoDB.

An event is put once, on condition that its id (derived from the brand's idempotency key) is
new; while unprocessed it carries the sparse ``unprocessed`` index keys (``PENDING#<shard>``),
which settling removes; a failure whose last retry failed moves to ``FAILED#<shard>``.

**Decisions** (the pipeline's port :class:`chalicelib.events.decisions.Decisions`, of which
this module is the DynamoDB adapter): an event's decision, and what a refund request covers,
are claimed once (``CLAIM#<key>`` in the ledger table) in one transaction with the guards
they advance (the member's event counters, an event's refunds so far: ``GUARD#<key>``, the
same items the ledger's grants condition on, see :mod:`chalicelib.store.guards`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import ids
from chalicelib.guards import Guard
from chalicelib.store import guards as guard_items
from chalicelib.store.base import connection
from chalicelib.store.events import PENDING_SHARDS, EventItem
from chalicelib.store.ledger import ClaimItem
from chalicelib.store.writes import ATTEMPTS, Contention, backoff, refuse_if_permanent


def _pending(eid: str, at: datetime, state: str = "PENDING") -> tuple[str, str]:
    return f"{state}#{ids.shard_of(eid, PENDING_SHARDS)}", f"{at.isoformat()}#{eid}"


def new_item(eid: str, *, accepted_at: datetime, **fields: Any) -> EventItem:
    """An event as accepted (not yet written): status ``accepted``, in the pending index."""
    pk, sk = _pending(eid, accepted_at)
    return EventItem(*EventItem.key_for(eid), status="accepted", accepted_at=accepted_at, gsi1pk=pk, gsi1sk=sk,
                     **fields)


def put_new(item: EventItem) -> bool:
    """Write the event if its id is new. False: an event with that id exists (nothing written)."""
    try:
        item.save(condition=EventItem.pk.does_not_exist())
        return True
    except PutError as e:
        if e.cause_response_code != "ConditionalCheckFailedException":
            raise
    return False


def get(eid: str) -> EventItem | None:
    """The event as stored now (strongly consistent), or None."""
    return EventItem.find(*EventItem.key_for(eid))


def load(eids: list[str]) -> dict[str, EventItem]:
    """Many events in one strongly consistent BatchGetItem per 100 (those that exist)."""
    if not eids:
        return {}
    items = EventItem.batch_get([EventItem.key_for(eid) for eid in dict.fromkeys(eids)], consistent_read=True)
    return {item.event_id: item for item in items}


def settle(item: EventItem, result: dict[str, Any], now: datetime) -> None:
    """The event's result (status, outcomes, reason, details); it leaves the pending index."""
    actions = [EventItem.status.set(result["status"]), EventItem.outcomes.set(result["outcomes"]),
               EventItem.processed_at.set(now), EventItem.gsi1pk.remove(), EventItem.gsi1sk.remove()]
    actions.append(EventItem.reason.set(result["reason"]) if result.get("reason") else EventItem.reason.remove())
    actions.append(EventItem.details.set(result["details"]) if result.get("details") else EventItem.details.remove())
    item.update(actions=actions)


def settle_failure(item: EventItem, status: str, details: dict[str, Any], now: datetime) -> bool:
    """An unprocessed event settles as ``rejected`` (out of every index) or ``failed`` (into the
    failed index, where the sweeper never looks). False: it settled meanwhile (nothing written)."""
    if status == "failed":
        pk, sk = _pending(item.event_id, now, "FAILED")
        index = [EventItem.gsi1pk.set(pk), EventItem.gsi1sk.set(sk)]
    else:
        index = [EventItem.gsi1pk.remove(), EventItem.gsi1sk.remove()]
    try:
        item.update(actions=[EventItem.status.set(status), EventItem.reason.set(details["code"]),
                             EventItem.details.set(details), EventItem.outcomes.set(item.outcomes or []),
                             EventItem.processed_at.set(now), *index],
                    condition=EventItem.status.is_in("accepted", "failed"))
    except UpdateError as e:
        if e.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def set_reversals(item: EventItem, reversals: list[dict[str, Any]]) -> None:
    item.update(actions=[EventItem.reversals.set(reversals)])


def failed() -> list[EventItem]:
    """Events whose last retry failed (waiting in the dead-letter queue for a redrive)."""
    return [item for shard in range(PENDING_SHARDS) for item in EventItem.unprocessed.query(f"FAILED#{shard}")]


def pending(before: datetime) -> list[EventItem]:
    """Events accepted before ``before`` and still unprocessed (the sparse index)."""
    cutoff = before.isoformat()
    return [item for shard in range(PENDING_SHARDS)
            for item in EventItem.unprocessed.query(f"PENDING#{shard}", EventItem.gsi1sk < cutoff)]


# -- decisions: claims and the guards they advance --------------------------------------------------

def read_guards(keys: list[str]) -> dict[str, tuple[int, dict]]:
    """``{key: (version, state)}`` in one strongly consistent batch; never written: ``(0, {})``."""
    return guard_items.read(keys)


def claimed(key: str) -> dict | None:
    try:
        return ClaimItem.get(*ClaimItem.key_for(key), consistent_read=True).value
    except DoesNotExist:
        return None


def claim(key: str, value: dict, guards: tuple[Guard, ...] = ()) -> dict:
    """Store ``value`` under ``key`` unless something is there already; return what is.
    ``guards`` are written in the same transaction, and refuse a new claim if they moved
    (:class:`GuardChanged`)."""
    for attempt in range(ATTEMPTS):
        try:
            if guards:
                with TransactWrite(connection=connection()) as tx:
                    tx.save(ClaimItem(*ClaimItem.key_for(key), value=value), condition=ClaimItem.pk.does_not_exist())
                    guard_items.write(tx, guards)
            else:
                ClaimItem(*ClaimItem.key_for(key), value=value).save(condition=ClaimItem.pk.does_not_exist())
            return value
        except (PutError, TransactWriteError) as e:
            refuse_if_permanent(e)
            if isinstance(e, PutError) and e.cause_response_code != "ConditionalCheckFailedException":
                raise
        stored = claimed(key)
        if stored is not None:
            return stored
        guard_items.check(guards)
        backoff(attempt)  # a transaction conflict: nothing was decided against us
    raise Contention("The member's points are changing too fast; try again.")
