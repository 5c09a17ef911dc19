"""The leaderboard against DynamoDB (the ``standings`` table), a consumer of domain events.

Items (see :mod:`chalicelib.leaderboard.model` for boards and buckets):
- ``LB#<board>#<member> / SCORE`` — the member's points on a board; while above 0 it carries
  the ``ranking`` index keys (``RANK#<board>``, ``<points, 13 digits>#<member>``, keys only):
  top N is one Query.
- ``LBHIST#<board>#<shard> / P<page>`` — members per score bucket (attributes ``b<bucket>``),
  8 shards by member so no single item takes every update.
- ``LBX#<board>#<bucket> / <points>`` — members per exact score within a wide bucket.
- ``LBNAME#<member> / NAME`` — the name the member shows (absent: anonymised).
- ``APPLIED#<event id> / APPLIED`` — a domain event already counted (kept 14 days, longer
  than the queue's retention): the marker is written in the same transaction as the scores
  (:mod:`chalicelib.store.applied`).

Each points.earned / points.reversed event moves the member's score on six boards (program
and brand, each by week, month and all time) and the bucket counts, in one transaction conditioned on
the scores read: exactly once, and exact. Rank: one BatchGet (own score + every bucket page)
and one Query (exact scores ahead within the own bucket). Top N: one Query and one BatchGet of
the names.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from chalicelib import aws, config, errors
from chalicelib.bus.catalogue import DomainEvent, PointsEarned, PointsReversed
from chalicelib.bus.consumer import Consumer, scratch
from chalicelib.ids import shard_of
from chalicelib.leaderboard import model
from chalicelib.store import applied

HIST_SHARDS = 8
ATTEMPTS = 12  # BatchGet rounds for unprocessed keys
PAD = 13


def _table() -> str:
    return config.table_name("standings")


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def score_key(board: str, member_id: str) -> dict[str, Any]:
    return _key(f"LB#{board}#{member_id}", "SCORE")


def page_key(board: str, shard: int, page: int) -> dict[str, Any]:
    return _key(f"LBHIST#{board}#{shard}", f"P{page}")


def exact_key(board: str, bucket: int, score: int) -> dict[str, Any]:
    return _key(f"LBX#{board}#{bucket}", f"{score:0{PAD}d}")


def name_key(member_id: str) -> dict[str, Any]:
    return _key(f"LBNAME#{member_id}", "NAME")


def _batch_get(keys: list[dict[str, Any]], consistent: bool = False) -> list[dict[str, Any]]:
    """Every item of ``keys`` that exists (one request unless DynamoDB leaves keys unprocessed)."""
    client, found = aws.client("dynamodb"), []
    pending = {_table(): {"Keys": keys, "ConsistentRead": consistent}}
    for attempt in range(ATTEMPTS):
        reply = client.batch_get_item(RequestItems=pending)
        found += reply["Responses"].get(_table(), [])
        pending = reply.get("UnprocessedKeys") or {}
        if not pending:
            return found
        time.sleep(0.05 * 2**attempt)
    raise errors.ServiceUnavailable("The leaderboard is busy; try again.")


# -- writes -----------------------------------------------------------------------------------

def apply(message_id: str, member_id: str, brand_id: str, delta: int, at: datetime) -> bool:
    """Move the member's score by ``delta`` on every board the earning counts on, once per
    ``message_id``. Scores never go below 0. Returns False if the message was counted before."""
    boards = model.boards(brand_id, at, config.program_timezone())
    shard = shard_of(member_id, HIST_SHARDS)
    keys = [score_key(b, member_id) for b in boards]
    pks = [key["pk"]["S"] for key in keys]
    read_ahead = scratch().get(SCORES)  # the batch's scores, read at once (prefetch)
    new: dict[str, int] = {}

    def build() -> list[dict[str, Any]]:
        if read_ahead is not None and not new and all(pk in read_ahead for pk in pks):
            stored = {pk: read_ahead[pk] for pk in pks}  # first attempt only
        else:  # fresh reads: a concurrent message of this member may have moved them
            stored = {item["pk"]["S"]: int(item["points"]["N"]) for item in _batch_get(keys, consistent=True)}
        items = [applied.marker(_table(), message_id, at)]
        for board, pk in zip(boards, pks, strict=True):
            old = stored.get(pk)
            new[pk] = max(0, (old or 0) + delta)
            items += _moves(board, member_id, shard, old, new[pk])
        return items

    done = applied.apply_once(build, "The member's scores kept moving; the message will be retried.")
    if done and read_ahead is not None:
        read_ahead.update(new)  # what the next message of this member in the batch starts from
    return done


SCORES = "leaderboard.scores"  # consumer scratch(): pk -> points (None: no item) as read for the batch


def prefetch(events: list[PointsEarned | PointsReversed]) -> set[str]:
    """Read the scores of every member of a batch on every board their events move, in one
    strongly consistent BatchGet (not one per event): :func:`apply` starts from these, and
    reads again only if its transaction is refused (it is conditioned on the scores read, so a
    stale read can cost a retry, never a wrong score). Handles no event by itself."""
    zone, keys = config.program_timezone(), {}
    for event in events:
        for board in model.boards(event.brand_id, event.at, zone):
            key = score_key(board, event.member_id)
            keys[key["pk"]["S"]] = key
    if keys and len(keys) <= 100:
        found = {item["pk"]["S"]: int(item["points"]["N"]) for item in _batch_get(list(keys.values()), consistent=True)}
        scratch()[SCORES] = {pk: found.get(pk) for pk in keys}
    return set()


def _moves(board: str, member_id: str, shard: int, old: int | None, new: int) -> list[dict[str, Any]]:
    """The transaction items that take the member from ``old`` to ``new`` points on ``board``."""
    before = old or 0
    if new == before and old is not None:
        return []
    score: dict[str, Any] = {"TableName": _table(), "Key": score_key(board, member_id),
                             "ExpressionAttributeValues": {":new": {"N": str(new)}}}
    if new > 0:
        score["UpdateExpression"] = "SET points = :new, gsi2pk = :rank, gsi2sk = :order"
        score["ExpressionAttributeValues"].update({":rank": {"S": f"RANK#{board}"},
                                                   ":order": {"S": f"{new:0{PAD}d}#{member_id}"}})
    else:
        score["UpdateExpression"] = "SET points = :new REMOVE gsi2pk, gsi2sk"
    if old is None:
        score["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        score["ConditionExpression"] = "points = :old"
        score["ExpressionAttributeValues"][":old"] = {"N": str(old)}
    items = [{"Update": score}]
    counts: dict[int, dict[int, int]] = {}  # page -> bucket -> delta
    for points, sign in ((before, -1), (new, 1)):
        if points > 0:
            b = model.bucket(points)
            page = counts.setdefault(model.page_of(b), {})
            page[b] = page.get(b, 0) + sign
            if not model.is_exact(b):
                items.append({"Update": {"TableName": _table(), "Key": exact_key(board, b, points),
                                         "UpdateExpression": "ADD n :d",
                                         "ExpressionAttributeValues": {":d": {"N": str(sign)}}}})
    for page, moves in counts.items():
        moves = {b: d for b, d in moves.items() if d}
        if moves:
            items.append({"Update": {
                "TableName": _table(), "Key": page_key(board, shard, page),
                "UpdateExpression": "ADD " + ", ".join(f"b{b} :d{b}" for b in moves),
                "ExpressionAttributeValues": {f":d{b}": {"N": str(d)} for b, d in moves.items()}}})
    return items


def _moved(event: PointsEarned | PointsReversed) -> None:
    delta = event.points if isinstance(event, PointsEarned) else -event.points
    apply(event.id, event.member_id, event.brand_id, delta, event.at)


def consumer() -> Consumer:
    """The leaderboard as a consumer of domain events (see chalicelib.bootstrap)."""
    handlers: dict[type[DomainEvent], Any] = {PointsEarned: _moved, PointsReversed: _moved}
    return Consumer("leaderboard", handlers, prepare=prefetch)


def set_name(member_id: str, display_name: str | None) -> dict[str, Any]:
    client = aws.client("dynamodb")
    if display_name:
        client.put_item(TableName=_table(), Item={**name_key(member_id), "display_name": {"S": display_name}})
    else:
        client.delete_item(TableName=_table(), Key=name_key(member_id))
    return {"display_name": display_name or None, "shown_as": display_name or model.anonymous_name(member_id)}


def get_name(member_id: str) -> str | None:
    item = aws.client("dynamodb").get_item(TableName=_table(), Key=name_key(member_id)).get("Item")
    return item["display_name"]["S"] if item else None


# -- reads ------------------------------------------------------------------------------------

def top(board: str, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` members of the board (ties share a rank): a Query and a BatchGet."""
    reply = aws.client("dynamodb").query(
        TableName=_table(), IndexName="ranking", KeyConditionExpression="gsi2pk = :b",
        ExpressionAttributeValues={":b": {"S": f"RANK#{board}"}}, ScanIndexForward=False, Limit=limit)
    rows = []
    for item in reply.get("Items", []):
        points, member_id = item["gsi2sk"]["S"].split("#", 1)
        rows.append((member_id, int(points)))
    names = {}
    if rows:
        names = {item["pk"]["S"].removeprefix("LBNAME#"): item["display_name"]["S"]
                 for item in _batch_get([name_key(m) for m, _ in rows])}
    return [{"rank": rank, "member_id": member_id, "points": points,
             "member_display": names.get(member_id) or model.anonymous_name(member_id)}
            for rank, member_id, points in model.ranked(rows)]


def standing(board: str, member_id: str) -> dict[str, Any] | None:
    """The member's rank and points on the board (None with no points there): a BatchGet of
    the score and every bucket page, then one Query of the exact scores ahead in its bucket."""
    keys = [score_key(board, member_id)] + [page_key(board, s, p) for s in range(HIST_SHARDS)
                                            for p in range(model.PAGES)]
    counts: dict[int, int] = {}
    points = 0
    for item in _batch_get(keys):
        if item["sk"]["S"] == "SCORE":
            points = int(item["points"]["N"])
            continue
        for name, value in item.items():
            if name.startswith("b") and name[1:].isdigit():
                counts[int(name[1:])] = counts.get(int(name[1:]), 0) + int(value["N"])
    if points <= 0:
        return None
    return {"rank": model.rank(points, counts, _ahead_in_bucket(board, points)), "points": points}


def _ahead_in_bucket(board: str, points: int) -> int:
    b = model.bucket(points)
    if model.is_exact(b):
        return 0
    client, ahead, start = aws.client("dynamodb"), 0, None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        reply = client.query(TableName=_table(), KeyConditionExpression="pk = :p AND sk > :s",
                             ExpressionAttributeValues={":p": {"S": f"LBX#{board}#{b}"},
                                                        ":s": {"S": f"{points:0{PAD}d}"}}, **kwargs)
        ahead += sum(int(item["n"]["N"]) for item in reply.get("Items", []))
        start = reply.get("LastEvaluatedKey")
        if not start:
            return ahead
