"""Events: accept (store once, enqueue), process (the pipeline), look up, reverse, sweep.

Accepting is one conditional put on an item whose id derives from (brand, idempotency key):
a retry with the same request finds it and answers with the same id; with other fields it is
refused. The SQS message carries only the id. If the send fails after the put, the event is
still accepted: the sweeper finds it through the sparse ``unprocessed`` index and enqueues it
again, so nothing accepted is lost.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib import bootstrap, errors, queues
from chalicelib.activities import facts
from chalicelib.activities import service as activities
from chalicelib.bus import catalogue, publisher
from chalicelib.events import pipeline, store
from chalicelib.events.pipeline import Event
from chalicelib.ids import derived_id
from chalicelib.ledger.model import ExistsWithDifferentFields
from chalicelib.members import store as member_store
from chalicelib.observability import logger
from chalicelib.store.events import EventItem

RESEND_AFTER = timedelta(seconds=30)  # a retried POST re-enqueues an event still unprocessed after this
SWEEP_AFTER = timedelta(minutes=5)  # the sweeper re-enqueues events accepted longer ago than this


def event_id(brand_id: str, idempotency_key: str) -> str:
    """26 Crockford base32 characters (the shape of every id here) derived from the key."""
    return derived_id("event", brand_id, idempotency_key)


def _request_hash(brand_id: str, member_id: str, body: dict[str, Any]) -> str:
    fields = {k: body.get(k) for k in ("type", "occurred_at", "attributes", "channel")}
    fields["member_id"] = member_id
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return base64.b32encode(hashlib.sha256(f"{brand_id}\x1f{canonical}".encode()).digest()[:15]).decode()


def _member_id(brand_id: str, body: dict[str, Any]) -> str:
    """The member the event names: ``member_id``, or the brand's ``external_id`` looked up."""
    if body.get("member_id"):
        return body["member_id"]
    member_id = member_store.find("EXTERNAL", f"{brand_id}#{body['external_id']}")
    if member_id is None:
        raise errors.NotFound("No member of this brand has that external_id.", code="member_not_found",
                              details={"external_id": body["external_id"]})
    return member_id


Members = dict[str, tuple[Any, Any]]  # member id -> (profile or None, enrolment with the brand or None)


def _resolve_member(brand_id: str, body: dict[str, Any], known: Members | None = None) -> str:
    """The active member of the brand's program the event is for (404 ``member_not_found``
    otherwise); ``known``: their profile and enrolment, already read for a batch."""
    member_id = _member_id(brand_id, body)
    if known is None or member_id not in known:
        known = member_store.profiles_and_enrolments([member_id], brand_id)
    profile, enrolment = known[member_id]
    if profile is None or enrolment is None or profile.status != "active":
        raise errors.NotFound("No such member in this brand's program.", code="member_not_found",
                              details={"member_id": member_id})
    return member_id


def _occurred_at(body: dict[str, Any], now: datetime) -> datetime:
    if not body.get("occurred_at"):
        return now
    at = datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00")).astimezone(UTC)
    if at > now + timedelta(minutes=5):
        raise errors.ValidationFailed("occurred_at is in the future.", details={"pointer": "/occurred_at",
                                                                                 "rule": "not_future"})
    return at


def store_event(brand_id: str, body: dict[str, Any], now: datetime,
                known: Members | None = None) -> tuple[EventItem, bool]:
    """The event stored once: (item, True) when new, (the stored item, False) on a retry."""
    key = body["idempotency_key"]
    eid = event_id(brand_id, key)
    member_id = _resolve_member(brand_id, body, known)
    digest = _request_hash(brand_id, member_id, body)
    item = store.new_item(eid, accepted_at=now, brand_id=brand_id, member_id=member_id, type=body["type"],
                          channel=body.get("channel"), occurred_at=_occurred_at(body, now),
                          attributes=body.get("attributes") or {}, idempotency_key=key, request_hash=digest)
    if store.put_new(item):
        return item, True
    stored = store.get(eid)
    if stored is None:  # removed between the refused put and this read (an erasure): try again
        raise errors.ServiceUnavailable("The event is changing; try again.")
    if stored.request_hash != digest:
        raise ExistsWithDifferentFields("This idempotency_key was used with another event.",
                                        details={"id": eid, "idempotency_key": key})
    # Our own put, whose reply was lost and which the client retried into its own condition
    # (the item bears this call's accepted_at): still new, so it must be sent, not left to the sweeper.
    return stored, stored.accepted_at == now


def _enqueue(items: list[EventItem]) -> None:
    """Send one message per event; a failure is logged, not raised: the sweeper resends."""
    for start in range(0, len(items), 10):
        chunk = items[start:start + 10]
        try:
            queues.send_batch("events", [{"event_id": item.event_id} for item in chunk])
        except Exception:
            logger.exception("events not enqueued; the sweeper will resend them",
                             extra={"event_ids": [item.event_id for item in chunk]})


def _needs_send(item: EventItem, created: bool, now: datetime) -> bool:
    return created or (item.status == "accepted" and now - item.accepted_at > RESEND_AFTER)


def accept(brand_id: str, body: dict[str, Any], now: datetime) -> EventItem:
    item, created = store_event(brand_id, body, now)
    if _needs_send(item, created, now):
        _enqueue([item])
    return item


def accept_batch(brand_id: str, bodies: list[dict[str, Any]], now: datetime) -> list[EventItem | errors.PunchcardError]:
    """Each event stored on its own (one bad event never refuses its batch-mates), then sent.
    The members named by id are read first, all at once (two BatchGetItem calls)."""
    named = [body["member_id"] for body in bodies if body.get("member_id")]
    known = member_store.profiles_and_enrolments(named, brand_id) if named else {}

    def one(body):
        try:
            return store_event(brand_id, body, now, known)
        except errors.PunchcardError as e:
            return e

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, bodies))
    _enqueue([r[0] for r in results if isinstance(r, tuple) and _needs_send(r[0], r[1], now)])
    return [r[0] if isinstance(r, tuple) else r for r in results]


def get(brand_id: str, eid: str) -> EventItem:
    item = store.get(eid)
    if item is None or item.brand_id != brand_id:
        raise errors.NotFound("No such event.", details={"event_id": eid})
    return item


def event_of(item: EventItem) -> Event:
    return Event(item.event_id, item.brand_id, item.member_id, item.type, item.occurred_at, item.attributes or {},
                 item.channel)


@dataclass
class Processed:
    """An event run through the pipeline, not yet recorded: its domain event is published first
    (so a crash in between replays the idempotent run and publishes it again, never loses it),
    then :func:`record` settles the event. ``settled``: it was recorded before (a redelivery)."""

    item: EventItem
    result: dict[str, Any]
    published: catalogue.DomainEvent | None
    settled: bool = False


load = store.load


@contextlib.contextmanager
def reads_for_batch(items: list[EventItem]) -> Iterator[None]:
    """Within: the batch's events share their reads — each brand's ruleset version checked
    once, the members' facts and the counters read in one request each, not per event."""
    with activities.one_check_per_batch(), facts.read_for_batch([item.member_id for item in items]), \
            pipeline.counters_read_for_batch(bootstrap.decisions(), [event_of(i) for i in items]):
        yield


def run(eid: str, now: datetime, item: EventItem | None = None) -> Processed | None:
    """Run the pipeline for one event (idempotent); None if there is no such event. ``item``:
    the event, already read for its batch."""
    item = item or store.get(eid)
    if item is None:
        return None
    if item.status not in ("accepted", "failed"):  # failed: redriven from the dead-letter queue
        return Processed(item, {"status": item.status, "outcomes": item.outcomes or []}, None, settled=True)
    result = bootstrap.pipeline().process(event_of(item))
    granted = [o for o in result["outcomes"] if o["status"] == "granted" and o["points"] > 0]
    earned = sum(o["points"] for o in granted)
    about = {"brand_id": item.brand_id, "member_id": item.member_id, "event_id": eid, "at": now,
             "channel": result.get("channel")}
    if earned:
        facts.earned(item.member_id)  # the batch's next event of this member reads its earnings again
        published = catalogue.PointsEarned(
            id=f"earned:{eid}", **about, points=earned,
            activities=tuple(catalogue.ActivityPoints(activity_id=o["activity_id"], points=o["points"])
                             for o in granted))
    else:  # counted by analytics (events per channel) all the same
        published = catalogue.EventProcessed(id=f"processed:{eid}", **about, status=result["status"],
                                             reason=result.get("reason"))
    return Processed(item, result, published)


def record(processed: Processed, now: datetime) -> None:
    """Settle the event with its result (once its domain event is published)."""
    if processed.settled:
        return
    store.settle(processed.item, processed.result, now)


def process(eid: str, now: datetime) -> dict[str, Any] | None:
    """Run, publish and record one event; None if there is no such event. (The queue consumer
    does the same for a whole batch, with one PutEvents per ten events.)"""
    processed = run(eid, now)
    if processed is None:
        return None
    if processed.published is not None:
        publisher.publish(processed.published)
    record(processed, now)
    return processed.result


def _error_details(error: BaseException, attempts: int | None = None) -> dict[str, Any]:
    code = error.code if isinstance(error, errors.PunchcardError) else "internal_error"
    message = error.message if isinstance(error, errors.PunchcardError) else type(error).__name__
    details = {"code": code, "message": message[:500]}
    if isinstance(error, errors.PunchcardError) and error.details:
        details["details"] = error.details
    return {**details, **({"attempts": attempts} if attempts else {})}


def settle_failure(eid: str, error: BaseException, now: datetime, *, attempts: int, final: bool) -> str | None:
    """Record why an event could not be processed, so it ends in a visible state: ``rejected``
    at once when no retry can succeed, ``failed`` when its last retry failed (it is then in the
    dead-letter queue: redrive processes it again). Returns the status set, or None when the
    event already settled (a concurrent delivery won) or the failure is retried."""
    permanent = errors.is_permanent(error)
    if not (permanent or final):
        return None
    details = _error_details(error, attempts)
    status = "rejected" if permanent else "failed"
    item = store.get(eid)
    # the failed keep a sparse index of their own: the sweeper (PENDING#) leaves them alone
    if item is None or not store.settle_failure(item, status, details, now):
        return None
    about = {"brand_id": item.brand_id, "member_id": item.member_id, "event_id": eid, "at": now,
             "channel": item.channel, "reason": details["code"]}
    if permanent:
        publisher.publish(catalogue.EventProcessed(id=f"processed:{eid}", **about, status="rejected"))
    else:
        publisher.publish(catalogue.EventFailed(id=f"failed:{eid}:{attempts}:{now.isoformat()}", **about))
    return status


def failed(now: datetime) -> list[EventItem]:
    """Events whose last retry failed (waiting in the dead-letter queue for a redrive)."""
    return store.failed()


def reverse(brand_id: str, eid: str, key: str, amount: Decimal | None, now: datetime) -> dict[str, Any]:
    item = get(brand_id, eid)
    if item.status != "processed":
        raise errors.Conflict("The event has not been processed yet; reverse it once it has.",
                              code="event_not_processed", details={"event_id": eid, "status": item.status})
    event_amount = (item.attributes or {}).get("amount")
    try:
        total = None if event_amount is None or isinstance(event_amount, bool) else Decimal(str(event_amount))
    except InvalidOperation:
        total = None
    if total is not None and (not total.is_finite() or total <= 0):
        total = None
    if amount is not None and total is None:
        raise errors.ValidationFailed("A partial reversal needs the event's attributes.amount to share out.",
                                      code="no_amount_to_share", details={"pointer": "/amount", "rule": "amount"})
    result = bootstrap.pipeline().reverse(event_of(item), item.outcomes or [], key, amount, total)
    reversals = [r for r in (item.reversals or []) if r["id"] != key] + [{**result, "at": now.isoformat()}]
    store.set_reversals(item, reversals)
    if result["points"]:
        publisher.publish(catalogue.PointsReversed(id=f"reversed:{eid}:{key}", brand_id=brand_id,
                                                   member_id=item.member_id, event_id=eid, points=result["points"],
                                                   at=now))
    return result


def unprocessed(now: datetime, older_than: timedelta = SWEEP_AFTER) -> list[EventItem]:
    """Events accepted before ``now - older_than`` and still unprocessed (the sparse index)."""
    return store.pending(now - older_than)


def sweep(now: datetime, older_than: timedelta = SWEEP_AFTER) -> int:
    """Re-enqueue events accepted before ``now - older_than`` and still unprocessed."""
    items = unprocessed(now, older_than)
    _enqueue(items)
    return len(items)
