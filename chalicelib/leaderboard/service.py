"""The leaderboard: a consumer of domain events over its store (:mod:`.store`), plain Python.

Each points.earned / points.reversed event moves the member's score on six boards (program
and brand, each by week, month and all time) and the bucket counts, in a transaction
conditioned on the scores read, with the event's applied marker: exactly once, and exact. A
batch's events share their transactions (:func:`apply_all`), so a page of bucket counts is
written once a batch, not once an event. Rank: one BatchGet (own score + every
bucket page) and one Query (exact scores ahead within the own bucket). Top N: one Query and one
BatchGet of the names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import config, ids, queues
from chalicelib.bus.catalogue import DomainEvent, PointsEarned, PointsReversed
from chalicelib.bus.consumer import Consumer, scratch
from chalicelib.jobs import job
from chalicelib.leaderboard import model, store
from chalicelib.observability import logger

MAX_ITEMS = 100  # a transaction's limit
SCORES = "leaderboard.scores"  # consumer scratch(): (board, member) -> store.Score (None: no item), read for the batch


def apply(message_id: str, member_id: str, brand_id: str, delta: int, at: datetime) -> bool:
    """Move the member's score by ``delta`` on every board the earning counts on, once per
    ``message_id``. Scores never go below 0. Returns False if the message was counted before."""
    pairs = [(board, member_id) for board in model.boards(brand_id, at, config.program_timezone())]
    read_ahead = scratch().get(SCORES)  # the batch's scores, read at once (apply_all)
    new: dict[tuple[str, str], store.Score] = {}

    def moves() -> list[store.Move]:
        if read_ahead is not None and not new and all(pair in read_ahead for pair in pairs):
            stored = {pair: read_ahead[pair] for pair in pairs}  # first attempt only
        else:  # fresh reads: a concurrent message of this member may have moved them
            stored = store.scores(pairs)
        for pair in pairs:
            new[pair] = store.Score(max(0, _points(stored[pair]) + delta), True)
        return [_move(pair, stored[pair], new[pair].points) for pair in pairs]

    done = store.apply_once(message_id, at, moves)
    if done and read_ahead is not None:
        read_ahead.update(new)  # what the next message of this member in the batch starts from
    return done


def apply_all(events: list[PointsEarned | PointsReversed]) -> set[str]:
    """The batch form: apply a batch's events in as few transactions as fit (at most
    :data:`MAX_ITEMS` items each; one for a batch of ten): every event's marker, one score
    update per (board, member) for all of the member's events in it, and each board's bucket
    counts summed into one update per page instead of one per event. The scores come from one
    strongly consistent BatchGet, and each update is conditioned on them, so a stale read or a
    concurrent transaction cancels the transaction, never counts wrong. Returns the ids applied;
    the others (a transaction cancelled: an event applied before, a score that moved, a
    conflict) go through :func:`apply` one by one, starting from the scores read here."""
    zone = config.program_timezone()
    unique: dict[str, PointsEarned | PointsReversed] = {}
    for event in events:
        unique.setdefault(event.id, event)  # a message twice in one batch counts once
    boards = {event_id: model.boards(event.brand_id, event.at, zone) for event_id, event in unique.items()}
    pairs = {(board, event.member_id) for event_id, event in unique.items() for board in boards[event_id]}
    if not pairs or len(pairs) > 100:  # one BatchGet's worth; else each event reads its own
        return set()
    stored = store.scores(pairs)
    scratch()[SCORES] = stored
    by_member: dict[str, list[PointsEarned | PointsReversed]] = {}
    for event in unique.values():
        by_member.setdefault(event.member_id, []).append(event)

    def plan(members: list[str]) -> tuple[list[dict[str, Any]], dict[tuple[str, str], store.Score]]:
        new: dict[tuple[str, str], int] = {}
        markers = {}
        for member in members:
            for event in by_member[member]:
                markers[event.id] = event.at
                for board in boards[event.id]:
                    pair = (board, member)
                    new[pair] = max(0, new.get(pair, _points(stored[pair])) + _delta(event))
        moves = [_move(pair, stored[pair], points) for pair, points in new.items()]
        shard = ids.shard_of(next(iter(markers)), store.HIST_SHARDS)
        return store.transaction(markers, moves, shard), {pair: store.Score(p, True) for pair, p in new.items()}

    applied: set[str] = set()

    def commit(members: list[str]) -> None:
        items, new = plan(members)
        if members and len(items) <= MAX_ITEMS and store.commit(items):
            stored.update(new)
            applied.update(event.id for member in members for event in by_member[member])

    group: list[str] = []
    for member in by_member:  # a member's events stay in one transaction: its scores move once
        if group and len(plan([*group, member])[0]) > MAX_ITEMS:
            commit(group)
            group = []
        group.append(member)
    commit(group)
    return applied


def _points(score: store.Score | None) -> int:
    return score.points if score else 0


def _move(pair: tuple[str, str], stored: store.Score | None, points: int) -> store.Move:
    board, member_id = pair
    return store.Move(board, member_id, stored.points if stored else None, points, stored is None or stored.counted)


def _delta(event: PointsEarned | PointsReversed) -> int:
    return event.points if isinstance(event, PointsEarned) else -event.points


def _moved(event: PointsEarned | PointsReversed) -> None:
    apply(event.id, event.member_id, event.brand_id, _delta(event), event.at)


def consumer() -> Consumer:
    """The leaderboard as a consumer of domain events (see chalicelib.bootstrap)."""
    handlers: dict[type[DomainEvent], Any] = {PointsEarned: _moved, PointsReversed: _moved}
    return Consumer("leaderboard", handlers, prepare=apply_all)


RECOUNT_PAGE = 200


def start_recount(segments: int = 4) -> int:
    """After a change of the counts' layout (:data:`model.LAYOUT`): queue the recount of every
    score not counted in it, one job per scan segment. Ranks are exact again once they are
    done; members who earn meanwhile are counted by their own moves. Returns the jobs sent."""
    for body in model.recount_jobs(segments):
        queues.send("jobs", body)
    return segments


@job("leaderboard.recount")
def recount(args: dict[str, Any]) -> dict[str, int]:
    """Count one page of one segment's uncounted scores, and pass the rest on as a new message."""
    segment, segments = int(args["segment"]), int(args["segments"])
    moves, cursor = store.uncounted(segment, segments, RECOUNT_PAGE, args.get("cursor"))
    counted = store.count_in(moves, segment % store.HIST_SHARDS)
    if cursor:  # the rest of the segment: a message of its own, so no run outlives its Lambda
        queues.send("jobs", {"job": "leaderboard.recount", "args": {**args, "cursor": cursor}})
    logger.info("leaderboard recount page done", extra={"segment": segment, "found": len(moves),
                                                         "counted": counted, "more": bool(cursor)})
    return {"found": len(moves), "counted": counted}


def set_name(member_id: str, display_name: str | None) -> dict[str, Any]:
    store.put_name(member_id, display_name)
    return {"display_name": display_name or None, "shown_as": display_name or model.anonymous_name(member_id)}


def get_name(member_id: str) -> str | None:
    return store.get_name(member_id)


def top(board: str, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` members of the board (ties share a rank): a Query and a BatchGet."""
    rows = store.ranking(board, limit)
    names = store.names([member_id for member_id, _ in rows])
    return [{"rank": rank, "member_id": member_id, "points": points,
             "member_display": names.get(member_id) or model.anonymous_name(member_id)}
            for rank, member_id, points in model.ranked(rows)]


def standing(board: str, member_id: str) -> dict[str, Any] | None:
    """The member's rank and points on the board (None with no points there)."""
    points, counts = store.score_and_counts(board, member_id)
    if points <= 0:
        return None
    b = model.bucket(points)
    ahead = 0 if model.is_exact(b) else store.ahead_in_bucket(board, b, points)
    return {"rank": model.rank(points, counts, ahead), "points": points}
