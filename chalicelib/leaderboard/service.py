"""The leaderboard: a consumer of domain events over its store (:mod:`.store`), plain Python.

Each points.earned / points.reversed event moves the member's score on six boards (program
and brand, each by week, month and all time) and the bucket counts, in one transaction
conditioned on the scores read: exactly once, and exact. Rank: one BatchGet (own score + every
bucket page) and one Query (exact scores ahead within the own bucket). Top N: one Query and one
BatchGet of the names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import config
from chalicelib.bus.catalogue import DomainEvent, PointsEarned, PointsReversed
from chalicelib.bus.consumer import Consumer, scratch
from chalicelib.leaderboard import model, store

SCORES = "leaderboard.scores"  # consumer scratch(): (board, member) -> points (None: no item) as read for the batch


def apply(message_id: str, member_id: str, brand_id: str, delta: int, at: datetime) -> bool:
    """Move the member's score by ``delta`` on every board the earning counts on, once per
    ``message_id``. Scores never go below 0. Returns False if the message was counted before."""
    pairs = [(board, member_id) for board in model.boards(brand_id, at, config.program_timezone())]
    read_ahead = scratch().get(SCORES)  # the batch's scores, read at once (prefetch)
    new: dict[tuple[str, str], int] = {}

    def moves() -> list[store.Move]:
        if read_ahead is not None and not new and all(pair in read_ahead for pair in pairs):
            stored = {pair: read_ahead[pair] for pair in pairs}  # first attempt only
        else:  # fresh reads: a concurrent message of this member may have moved them
            stored = store.scores(pairs)
        for pair in pairs:
            new[pair] = max(0, (stored[pair] or 0) + delta)
        return [(board, member, stored[(board, member)], new[(board, member)]) for board, member in pairs]

    done = store.apply_once(message_id, at, moves)
    if done and read_ahead is not None:
        read_ahead.update(new)  # what the next message of this member in the batch starts from
    return done


def prefetch(events: list[PointsEarned | PointsReversed]) -> set[str]:
    """Read the scores of every member of a batch on every board their events move, in one
    strongly consistent BatchGet (not one per event): :func:`apply` starts from these, and
    reads again only if its transaction is refused (it is conditioned on the scores read, so a
    stale read can cost a retry, never a wrong score). Handles no event by itself."""
    zone = config.program_timezone()
    pairs = {(board, event.member_id) for event in events for board in model.boards(event.brand_id, event.at, zone)}
    if pairs and len(pairs) <= 100:
        scratch()[SCORES] = store.scores(pairs)
    return set()


def _moved(event: PointsEarned | PointsReversed) -> None:
    delta = event.points if isinstance(event, PointsEarned) else -event.points
    apply(event.id, event.member_id, event.brand_id, delta, event.at)


def consumer() -> Consumer:
    """The leaderboard as a consumer of domain events (see chalicelib.bootstrap)."""
    handlers: dict[type[DomainEvent], Any] = {PointsEarned: _moved, PointsReversed: _moved}
    return Consumer("leaderboard", handlers, prepare=prefetch)


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
