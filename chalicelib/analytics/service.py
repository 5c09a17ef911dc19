"""Analytics against DynamoDB (the ``analytics`` table), a consumer of domain events.

Every counted event (``points.earned``, ``event.processed``, ``points.reversed``,
``points.adjusted``, ``redemption.fulfilled``, ``redemption.cancelled``) adds its counters to its brand's day in one
transaction with an ``APPLIED#<event id>`` marker conditioned on not existing: a redelivery
counts nothing, a crash counts nothing, so the figures are exact. The day is the program-local
date of the event's ``at`` (when the points moved), not of its processing, so a retry lands
on the same day. Counters are spread over 8 shards by event id; a range of days is 8
Queries, read in parallel.
"""

from __future__ import annotations

import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib import aws, config
from chalicelib.activities import store as activities
from chalicelib.analytics import model
from chalicelib.bus import catalogue
from chalicelib.bus.catalogue import DomainEvent
from chalicelib.bus.consumer import Consumer
from chalicelib.store import applied

SHARDS = 8
MAX_DAYS = 366


def _table() -> str:
    return config.table_name("analytics")


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def day_key(brand_id: str, shard: int, day: str) -> dict[str, Any]:
    return _key(f"STATS#{brand_id}#{shard}", f"D#{day}")


def _counts(event: DomainEvent) -> dict[str, int]:
    """What the event adds to its brand's day ({} for nothing to count)."""
    if not isinstance(getattr(event, "brand_id", None), str):
        return {}
    return {name: value for name, value in model.counters(event.to_json()).items() if value}


def _day(event: DomainEvent) -> tuple[str, int, str]:
    """(brand, shard, day) of the counters the event adds to."""
    day = model.day_of(event.at, config.program_timezone())
    return event.brand_id, zlib.crc32(event.id.encode()) % SHARDS, day


def _add(key: tuple[str, int, str], counts: dict[str, int]) -> dict[str, Any]:
    names = {f"#c{i}": name for i, name in enumerate(counts)}
    return {"Update": {
        "TableName": _table(), "Key": day_key(*key),
        "UpdateExpression": "ADD " + ", ".join(f"{alias} :v{i}" for i, alias in enumerate(names)),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {f":v{i}": {"N": str(v)} for i, v in enumerate(counts.values())}}}


def record(event: DomainEvent) -> bool:
    """Count one event on its brand's day, once. False: nothing to count, or counted before."""
    counts = _counts(event)
    if not counts:
        return False
    items = [applied.marker(_table(), event.id, event.at), _add(_day(event), counts)]
    return applied.apply_once(lambda: items, "The day's counters are busy; the event will be retried.")


MAX_ITEMS = 100  # a transaction's limit


def record_all(events: list[DomainEvent]) -> set[str]:
    """Count a batch's events in one transaction: every event's marker, and one update per day
    item with the batch's counters on it summed (not a transaction per event, ~6 ms of DynamoDB
    Local's CPU each, 2 write units per item in the cloud). Returns the ids counted (then no
    event of the batch is counted again); empty when the transaction is cancelled (an event
    counted before, a conflict): nothing was written, and each is counted alone."""
    countable: dict[str, DomainEvent] = {}  # id -> event; a duplicate within the batch counts once
    sums: dict[tuple[str, int, str], Counter[str]] = {}
    for event in events:
        counts = _counts(event)
        if counts and event.id not in countable:
            countable[event.id] = event
            sums.setdefault(_day(event), Counter()).update(counts)
    if len(countable) < 2 or len(countable) + len(sums) > MAX_ITEMS:
        return set()
    items = [applied.marker(_table(), event_id, event.at) for event_id, event in countable.items()]
    items += [_add(key, dict(counts)) for key, counts in sums.items()]
    return set(countable) if applied.commit_if_new(items) else set()


COUNTED = (catalogue.PointsEarned, catalogue.EventProcessed, catalogue.EventFailed, catalogue.PointsReversed,
           catalogue.PointsAdjusted, catalogue.RedemptionFulfilled, catalogue.RedemptionCancelled)


def consumer() -> Consumer:
    """Analytics as a consumer of domain events (see chalicelib.bootstrap)."""
    return Consumer("analytics", dict.fromkeys(COUNTED, record), prepare=record_all)


def _shard_days(brand_id: str, shard: int, first: str, last: str) -> list[tuple[str, dict[str, int]]]:
    client, rows, start = aws.client("dynamodb"), [], None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        reply = client.query(TableName=_table(), KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                             ExpressionAttributeValues={":p": {"S": f"STATS#{brand_id}#{shard}"},
                                                        ":a": {"S": f"D#{first}"}, ":b": {"S": f"D#{last}"}},
                             **kwargs)
        for item in reply.get("Items", []):
            rows.append((item["sk"]["S"].removeprefix("D#"),
                         {name: int(value["N"]) for name, value in item.items() if "N" in value}))
        start = reply.get("LastEvaluatedKey")
        if not start:
            return rows


def daily(brand_id: str, days: int, today: date) -> dict[str, Any]:
    """The brand's dashboard for the ``days`` days up to ``today`` (program-local)."""
    first = today - timedelta(days=days - 1)
    with ThreadPoolExecutor(max_workers=SHARDS + 1) as pool:
        shards = [pool.submit(_shard_days, brand_id, s, first.isoformat(), today.isoformat()) for s in range(SHARDS)]
        heads = pool.submit(activities.heads, brand_id)
        rows = [row for shard in shards for row in shard.result()]
        names = {head.activity_id: head.name for head in heads.result()}
    return {"brand_id": brand_id, "timezone": config.program_timezone(),
            **model.summary(rows, first, today, names)}


def today(now: datetime) -> date:
    return date.fromisoformat(model.day_of(now, config.program_timezone()))
