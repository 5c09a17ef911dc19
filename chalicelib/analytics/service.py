"""Analytics: a consumer of domain events over its store (:mod:`.store`), plain Python.

Every counted event (``points.earned``, ``event.processed``, ``points.reversed``,
``points.adjusted``, ``redemption.fulfilled``, ``redemption.cancelled``) adds its counters to its brand's day in one
transaction with an ``APPLIED#<event id>`` marker conditioned on not existing: a redelivery
counts nothing, a crash counts nothing, so the figures are exact. The day is the program-local
date of the event's ``at`` (when the points moved), not of its processing, so a retry lands
on the same day. Counters are spread over 8 shards by event id; a range of days is 8
Queries, read in parallel.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib import config
from chalicelib.activities import store as activities
from chalicelib.analytics import model, store
from chalicelib.bus import catalogue
from chalicelib.bus.catalogue import DomainEvent
from chalicelib.bus.consumer import Consumer

MAX_DAYS = 366


def _counts(event: DomainEvent) -> dict[str, int]:
    """What the event adds to its brand's day ({} for nothing to count)."""
    if not isinstance(getattr(event, "brand_id", None), str):
        return {}
    return {name: value for name, value in model.counters(event.to_json()).items() if value}


def _day(event: DomainEvent) -> store.Day:
    """(brand, shard, day) of the counters the event adds to."""
    return store.day_of(event.brand_id, event.id, model.day_of(event.at, config.program_timezone()))


def record(event: DomainEvent) -> bool:
    """Count one event on its brand's day, once. False: nothing to count, or counted before."""
    counts = _counts(event)
    return bool(counts) and store.add_once(event.id, event.at, _day(event), counts)


def record_all(events: list[DomainEvent]) -> set[str]:
    """Count a batch's events in one transaction: every event's marker, and one update per day
    item with the batch's counters on it summed (not a transaction per event, ~6 ms of DynamoDB
    Local's CPU each, 2 write units per item in the cloud). Returns the ids counted (then no
    event of the batch is counted again); empty when the transaction is cancelled (an event
    counted before, a conflict): nothing was written, and each is counted alone."""
    countable: dict[str, DomainEvent] = {}  # id -> event; a duplicate within the batch counts once
    sums: dict[store.Day, Counter[str]] = {}
    for event in events:
        counts = _counts(event)
        if counts and event.id not in countable:
            countable[event.id] = event
            sums.setdefault(_day(event), Counter()).update(counts)
    if len(countable) < 2 or len(countable) + len(sums) > store.MAX_ITEMS:
        return set()
    markers = {event_id: event.at for event_id, event in countable.items()}
    return set(countable) if store.add_all_once(markers, sums) else set()


COUNTED = (catalogue.PointsEarned, catalogue.EventProcessed, catalogue.EventFailed, catalogue.PointsReversed,
           catalogue.PointsAdjusted, catalogue.RedemptionFulfilled, catalogue.RedemptionCancelled)


def consumer() -> Consumer:
    """Analytics as a consumer of domain events (see chalicelib.bootstrap)."""
    return Consumer("analytics", dict.fromkeys(COUNTED, record), prepare=record_all)


def daily(brand_id: str, days: int, today: date) -> dict[str, Any]:
    """The brand's dashboard for the ``days`` days up to ``today`` (program-local)."""
    first = today - timedelta(days=days - 1)
    with ThreadPoolExecutor(max_workers=store.SHARDS + 1) as pool:
        heads = pool.submit(activities.heads, brand_id)
        rows = store.days(brand_id, first.isoformat(), today.isoformat(), pool)
        names = {head.activity_id: head.name for head in heads.result()}
    return {"brand_id": brand_id, "timezone": config.program_timezone(),
            **model.summary(rows, first, today, names)}


def today(now: datetime) -> date:
    return date.fromisoformat(model.day_of(now, config.program_timezone()))
