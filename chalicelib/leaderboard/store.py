"""The leaderboard's items in the ``standings`` table: the only leaderboard code that talks to
DynamoDB (boto3's low-level client: bucket counts ``ADD`` to attribute names chosen at run time).

Items (see :mod:`chalicelib.leaderboard.model` for boards and buckets):
- ``LB#<board>#<member> / SCORE`` — the member's points on a board and ``counted``, the
  layout (:data:`model.LAYOUT`) whose counts hold them; on a program board, ``unfolded``: the
  points of the only brand not on that brand's own board (see :mod:`.model`, absent: 0);
  while above 0 it carries the
  ``ranking`` index keys (``RANK#<board>``, ``<points, 13 digits>#<member>``, keys only): top
  N is one Query.
- ``LBC#<board>#<shard> / P<page>`` — members per score bucket (attribute ``b<i>`` for the
  page's i-th bucket), on 2 shards so no single item takes every update: a message applied
  alone writes its member's shard, a batch applied at once one shard chosen by its first
  message (a rank sums the shards, so any shard is right).
- ``LBE#<board>#<bucket> / <points>`` — members per exact score within a wide bucket.
- Layout 1's ``LBHIST#`` pages and ``LBX#`` counts are no longer read or written.
- ``LBNAME#<member> / NAME`` — the name the member shows (absent: anonymised).
- ``APPLIED#<event id> / APPLIED`` — a domain event already counted (kept 14 days, longer
  than the queue's retention): the marker is written in the same transaction as the scores
  (:mod:`chalicelib.store.applied`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NamedTuple

from chalicelib import aws, config, errors, ids
from chalicelib.leaderboard import model
from chalicelib.store import applied

HIST_SHARDS = 2  # x 20 pages + the score: one BatchGet of 41 keys (DynamoDB Local reads each alone)
ATTEMPTS = 12  # BatchGet rounds for unprocessed keys
PAD = 13


class Score(NamedTuple):
    points: int
    counted: bool  # in the counts of the current layout (else in none that is read)
    unfolded: int = 0


class Move(NamedTuple):
    board: str
    member_id: str
    old: int | None  # points before (None: no item)
    new: int
    counted: bool = True  # ``old`` is in the current layout's counts
    unfolded: tuple[int, int] | None = None  # (before, after) on a program board; None: left as it is


def _table() -> str:
    return config.table_name("standings")


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def score_key(board: str, member_id: str) -> dict[str, Any]:
    return _key(f"LB#{board}#{member_id}", "SCORE")


def page_key(board: str, shard: int, page: int) -> dict[str, Any]:
    return _key(f"LBC#{board}#{shard}", f"P{page}")


def exact_key(board: str, bucket: int, score: int) -> dict[str, Any]:
    return _key(f"LBE#{board}#{bucket}", f"{score:0{PAD}d}")


def name_key(member_id: str) -> dict[str, Any]:
    return _key(f"LBNAME#{member_id}", "NAME")


def shard_of(member_id: str) -> int:
    return ids.shard_of(member_id, HIST_SHARDS)


def _batch_get(keys: list[dict[str, Any]], consistent: bool = False) -> list[dict[str, Any]]:
    """Every item of ``keys`` that exists (one request unless DynamoDB leaves keys unprocessed)."""
    return [item for _, item in _batch_get_tables([(_table(), key) for key in keys], consistent)]


def _batch_get_tables(keys: list[tuple[str, dict[str, Any]]],
                      consistent: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """(table, item) of every (table, key) that exists, at most 100 keys: one request unless
    DynamoDB leaves keys unprocessed."""
    client, found = aws.client("dynamodb"), []
    pending: dict[str, Any] = {}
    for table, key in keys:
        pending.setdefault(table, {"Keys": [], "ConsistentRead": consistent})["Keys"].append(key)
    for attempt in range(ATTEMPTS):
        reply = client.batch_get_item(RequestItems=pending)
        found += [(table, item) for table, items in reply["Responses"].items() for item in items]
        pending = reply.get("UnprocessedKeys") or {}
        if not pending:
            return found
        time.sleep(0.05 * 2**attempt)
    raise errors.ServiceUnavailable("The leaderboard is busy; try again.")


# -- scores -----------------------------------------------------------------------------------

def _score(item: dict[str, Any]) -> Score:
    return Score(int(item["points"]["N"]), int(item.get("counted", {}).get("N", 1)) == model.LAYOUT,
                 int(item.get("unfolded", {}).get("N", 0)))


def scores(pairs: Iterable[tuple[str, str]],
           also: tuple[str, dict[str, Any]] | None = None) -> tuple[dict[tuple[str, str], Score | None], Any]:
    """Each (board, member)'s score as stored now (strongly consistent; None: no item), in
    one BatchGet a 100 keys; with ``also`` = (table, key), that item too, in the same request
    (None if it does not exist)."""
    keys = {(board, member): score_key(board, member) for board, member in pairs}
    wanted = [(_table(), key) for key in keys.values()] + ([also] if also else [])
    found, extra = {}, None
    for start in range(0, len(wanted), 100):
        for table, item in _batch_get_tables(wanted[start:start + 100]):
            if table == _table():
                found[item["pk"]["S"]] = _score(item)
            else:
                extra = item
    return {pair: found.get(key["pk"]["S"]) for pair, key in keys.items()}, extra


def apply_once(message_id: str, at: datetime, moves: Callable[[], list[Move]]) -> bool:
    """Commit ``moves()`` with the message's applied marker in one transaction, each score
    conditioned on the points it was read at. False: the message was applied before. A refused
    condition calls ``moves()`` again (from fresh reads)."""
    def build() -> list[dict[str, Any]]:
        current = moves()
        # the member's shard: one member's messages never contend with another's on a page
        return transaction({message_id: at}, current, shard_of(current[0].member_id) if current else 0)

    return applied.apply_once(build, "The member's scores kept moving; the message will be retried.")


def transaction(markers: dict[str, datetime], moves: list[Move], shard: int) -> list[dict[str, Any]]:
    """The items of one transaction that applies several messages at once: each message's
    marker, one update per (board, member) from its points before the first message to its
    points after the last, and the bucket counts summed over every move (pages on ``shard``)."""
    items = [applied.marker(_table(), message_id, at) for message_id, at in markers.items()]
    counts = Counts()
    for move in moves:
        if _changes(move):
            items.append(_score_update(move))
            counts.move(move)
    return items + counts.updates(shard)


def commit(items: list[dict[str, Any]]) -> bool:
    """One attempt at a :func:`transaction`. False: cancelled (a message applied before, a score
    moved since it was read, a conflict), and nothing was written."""
    return applied.commit_if_new(items)


def _changes(move: Move) -> bool:
    unfolded = move.unfolded is not None and move.unfolded[0] != move.unfolded[1]
    return move.old is None or move.new != move.old or not move.counted or unfolded


def _score_update(move: Move) -> dict[str, Any]:
    """The member's points on the board from ``old`` (None: no item yet) to ``new``, counted in
    the current layout, conditioned on ``old`` and on the layout it was counted in (and on a
    program board, ``unfolded`` from its value before to after); while above 0 the item
    carries its ``ranking`` index keys."""
    board, member_id, old, new, counted, unfolded = move
    values = {":new": {"N": str(new)}, ":layout": {"N": str(model.LAYOUT)}}
    score: dict[str, Any] = {"TableName": _table(), "Key": score_key(board, member_id),
                             "ExpressionAttributeValues": values}
    sets, removes, conditions = ["points = :new", "counted = :layout"], [], []
    if new > 0:
        sets += ["gsi2pk = :rank", "gsi2sk = :order"]
        values.update({":rank": {"S": f"RANK#{board}"}, ":order": {"S": f"{new:0{PAD}d}#{member_id}"}})
    else:
        removes += ["gsi2pk", "gsi2sk"]
    if old is None:
        conditions.append("attribute_not_exists(pk)")
    else:
        values[":old"] = {"N": str(old)}
        conditions += ["points = :old",
                       "counted = :layout" if counted else "(attribute_not_exists(counted) OR counted <> :layout)"]
    if unfolded is not None:
        before, after = unfolded
        if old is not None:
            if before:
                values[":was"] = {"N": str(before)}
                conditions.append("unfolded = :was")
            else:
                conditions.append("attribute_not_exists(unfolded)")
        if after:
            values[":unfolded"] = {"N": str(after)}
            sets.append("unfolded = :unfolded")
        else:
            removes.append("unfolded")
    score["UpdateExpression"] = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    score["ConditionExpression"] = " AND ".join(conditions)
    return {"Update": score}


class Counts:
    """The bucket counts that score moves change, summed: per (board, page) the members per
    bucket, per (board, wide bucket, points) the members at that exact score. Moves that cancel
    out (a member passing through a bucket within one transaction) write nothing."""

    def __init__(self) -> None:
        self.pages: dict[tuple[str, int], dict[int, int]] = {}
        self.exact: dict[tuple[str, int, int], int] = {}

    def move(self, move: Move) -> None:
        """-1 where the member was counted (if in this layout's counts), +1 where it is now."""
        board, _, old, new, counted, _ = move
        for points, sign in (((old or 0) if counted else 0, -1), (new, 1)):
            if points > 0:
                b = model.bucket(points)
                page = self.pages.setdefault((board, model.page_of(b)), {})
                page[b] = page.get(b, 0) + sign
                if not model.is_exact(b):
                    self.exact[(board, b, points)] = self.exact.get((board, b, points), 0) + sign

    def rows(self, shard: int) -> list[tuple[dict[str, Any], dict[str, int]]]:
        """(key, {attribute: delta}) of every count item that changes (pages on ``shard``)."""
        if not 0 <= shard < HIST_SHARDS:  # a page no rank reads would count nobody
            raise ValueError(f"no page shard {shard}")
        rows = [(exact_key(board, b, points), {"n": d}) for (board, b, points), d in self.exact.items() if d]
        for (board, page), deltas in self.pages.items():
            changed = {f"b{b % model.PAGE_SIZE}": d for b, d in deltas.items() if d}
            if changed:
                rows.append((page_key(board, shard, page), changed))
        return rows

    def updates(self, shard: int) -> list[dict[str, Any]]:
        """The transaction items that add the counts (pages on ``shard``: a rank sums them all)."""
        return [{"Update": {"TableName": _table(), "Key": key,
                            "UpdateExpression": "ADD " + ", ".join(f"{name} :d{i}" for i, name in enumerate(deltas)),
                            "ExpressionAttributeValues": {f":d{i}": {"N": str(d)}
                                                          for i, d in enumerate(deltas.values())}}}
                for key, deltas in self.rows(shard)]


# -- names ------------------------------------------------------------------------------------

def put_name(member_id: str, display_name: str | None) -> None:
    """The name the member shows; None removes it (the member shows anonymised)."""
    client = aws.client("dynamodb")
    if display_name:
        client.put_item(TableName=_table(), Item={**name_key(member_id), "display_name": {"S": display_name}})
    else:
        client.delete_item(TableName=_table(), Key=name_key(member_id))


def get_name(member_id: str) -> str | None:
    item = aws.client("dynamodb").get_item(TableName=_table(), Key=name_key(member_id)).get("Item")
    return item["display_name"]["S"] if item else None


def names(member_ids: list[str]) -> dict[str, str]:
    """The names the members chose (those with none are absent): one BatchGet."""
    if not member_ids:
        return {}
    return {item["pk"]["S"].removeprefix("LBNAME#"): item["display_name"]["S"]
            for item in _batch_get([name_key(m) for m in member_ids])}


# -- ranks ------------------------------------------------------------------------------------

def ranking(board: str, limit: int) -> list[tuple[str, int]]:
    """(member, points) of the first ``limit`` members of the board, best first: one Query."""
    reply = aws.client("dynamodb").query(
        TableName=_table(), IndexName="ranking", KeyConditionExpression="gsi2pk = :b",
        ExpressionAttributeValues={":b": {"S": f"RANK#{board}"}}, ScanIndexForward=False, Limit=limit)
    rows = []
    for item in reply.get("Items", []):
        points, member_id = item["gsi2sk"]["S"].split("#", 1)
        rows.append((member_id, int(points)))
    return rows


def score_and_counts(board: str, member_id: str) -> tuple[int, dict[int, int]]:
    """The member's points on the board and the members per bucket (summed over the shards):
    one BatchGet of the score and every bucket page."""
    keys = [score_key(board, member_id)] + [page_key(board, s, p) for s in range(HIST_SHARDS)
                                            for p in range(model.PAGES)]
    counts: dict[int, int] = {}
    points = 0
    for item in _batch_get(keys):
        if item["sk"]["S"] == "SCORE":
            points = int(item["points"]["N"])
            continue
        first = int(item["sk"]["S"][1:]) * model.PAGE_SIZE
        for name, value in item.items():
            if name.startswith("b") and name[1:].isdigit():
                b = first + int(name[1:])
                counts[b] = counts.get(b, 0) + int(value["N"])
    return points, counts


def ahead_in_bucket(board: str, bucket: int, points: int) -> int:
    """Members of a wide bucket with more than ``points``: a Query of its exact scores."""
    client, ahead, start = aws.client("dynamodb"), 0, None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        reply = client.query(TableName=_table(), KeyConditionExpression="pk = :p AND sk > :s",
                             ExpressionAttributeValues={":p": {"S": f"LBE#{board}#{bucket}"},
                                                        ":s": {"S": f"{points:0{PAD}d}"}}, **kwargs)
        ahead += sum(int(item["n"]["N"]) for item in reply.get("Items", []))
        start = reply.get("LastEvaluatedKey")
        if not start:
            return ahead


# -- recount (a change of layout) -------------------------------------------------------------

RECOUNT_BATCH = 30  # score items a transaction counts (each adds at most a page and an exact-score item)


def uncounted(segment: int, segments: int, limit: int,
              cursor: dict[str, Any] | None) -> tuple[list[Move], dict[str, Any] | None]:
    """Score items above 0 not counted in the current layout: one page of one segment of a
    parallel Scan (a change of layout is rare; nothing indexes them). Returns them as moves
    that count them where they are, and where to go on (None: the segment is done)."""
    kwargs: dict[str, Any] = {"ExclusiveStartKey": cursor} if cursor else {}
    reply = aws.client("dynamodb").scan(
        TableName=_table(), Segment=segment, TotalSegments=segments, Limit=limit,
        FilterExpression="sk = :score AND begins_with(pk, :lb) AND points > :zero"
                         " AND (attribute_not_exists(counted) OR counted <> :layout)",
        ExpressionAttributeValues={":score": {"S": "SCORE"}, ":lb": {"S": "LB#"}, ":zero": {"N": "0"},
                                   ":layout": {"N": str(model.LAYOUT)}}, **kwargs)
    moves = []
    for item in reply.get("Items", []):
        board, member_id = item["pk"]["S"].removeprefix("LB#").rsplit("#", 1)
        points = int(item["points"]["N"])
        moves.append(Move(board, member_id, points, points, counted=False))
    return moves, reply.get("LastEvaluatedKey")


def count_in(moves: list[Move], shard: int) -> int:
    """Count each uncounted score where it is, conditioned on its points and on being uncounted
    still (a live move may count it first: then it is skipped). Returns how many were counted."""
    done = 0
    for start in range(0, len(moves), RECOUNT_BATCH):
        chunk = moves[start:start + RECOUNT_BATCH]
        if commit(transaction({}, chunk, shard)):
            done += len(chunk)
            continue
        done += sum(commit(transaction({}, [move], shard)) for move in chunk)  # one moved: the others alone
    return done


# -- fold (a second brand arrives) ------------------------------------------------------------

def unfolded(segment: int, segments: int, limit: int,
             cursor: dict[str, Any] | None) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """(board, member) of program scores holding unfolded points: one page of one segment of a
    parallel Scan (a program becomes a coalition once; nothing indexes them), and where to go
    on (None: the segment is done)."""
    kwargs: dict[str, Any] = {"ExclusiveStartKey": cursor} if cursor else {}
    reply = aws.client("dynamodb").scan(
        TableName=_table(), Segment=segment, TotalSegments=segments, Limit=limit,
        FilterExpression="sk = :score AND begins_with(pk, :program) AND attribute_exists(unfolded)",
        ExpressionAttributeValues={":score": {"S": "SCORE"}, ":program": {"S": "LB#P:"}},
        ProjectionExpression="pk", **kwargs)
    pairs = [tuple(item["pk"]["S"].removeprefix("LB#").rsplit("#", 1)) for item in reply.get("Items", [])]
    return pairs, reply.get("LastEvaluatedKey")
