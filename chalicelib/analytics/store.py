"""Analytics' items in the ``analytics`` table (:mod:`chalicelib.store.analytics` declares the
schema): the only analytics code that talks to DynamoDB, on boto3's low-level client because
counters ``ADD`` to attribute names chosen at run time.

- ``STATS#<brand>#<shard> / D#<yyyy-mm-dd>`` — one day's counters (program timezone), spread
  over :data:`SHARDS` shards by event id so concurrent events do not all update one item.
- ``APPLIED#<event id> / APPLIED`` — an event already counted, written in the same transaction
  as its counters (:mod:`chalicelib.store.applied`).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from chalicelib import aws, config, ids
from chalicelib.store import applied

SHARDS = 8
MAX_ITEMS = 100  # a transaction's limit

# (brand, shard, program-local day)
Day = tuple[str, int, str]


def _table() -> str:
    return config.table_name("analytics")


def day_key(brand_id: str, shard: int, day: str) -> dict[str, Any]:
    return {"pk": {"S": f"STATS#{brand_id}#{shard}"}, "sk": {"S": f"D#{day}"}}


def day_of(brand_id: str, event_id: str, day: str) -> Day:
    """The counters item an event adds to."""
    return brand_id, ids.shard_of(event_id, SHARDS), day


def _add(key: Day, counts: Mapping[str, int]) -> dict[str, Any]:
    names = {f"#c{i}": name for i, name in enumerate(counts)}
    return {"Update": {
        "TableName": _table(), "Key": day_key(*key),
        "UpdateExpression": "ADD " + ", ".join(f"{alias} :v{i}" for i, alias in enumerate(names)),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {f":v{i}": {"N": str(v)} for i, v in enumerate(counts.values())}}}


def add_once(event_id: str, at: datetime, key: Day, counts: Mapping[str, int]) -> bool:
    """Add one event's counters with its marker, once. False: counted before."""
    items = [applied.marker(_table(), event_id, at), _add(key, counts)]
    return applied.apply_once(lambda: items, "The day's counters are busy; the event will be retried.")


def add_all_once(markers: Mapping[str, datetime], sums: Mapping[Day, Mapping[str, int]]) -> bool:
    """Every event's marker and the summed counters per day item in one transaction (at most
    :data:`MAX_ITEMS` items). False: cancelled (an event counted before, a conflict), and
    nothing was written."""
    items = [applied.marker(_table(), event_id, at) for event_id, at in markers.items()]
    items += [_add(key, counts) for key, counts in sums.items()]
    return applied.commit_if_new(items)


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


def days(brand_id: str, first: str, last: str, pool: ThreadPoolExecutor) -> list[tuple[str, dict[str, int]]]:
    """(day, counters) of every shard's items from ``first`` to ``last``: a Query per shard,
    in parallel on ``pool``; a day repeats once per shard it has counters on."""
    shards = [pool.submit(_shard_days, brand_id, s, first, last) for s in range(SHARDS)]
    return [row for shard in shards for row in shard.result()]
