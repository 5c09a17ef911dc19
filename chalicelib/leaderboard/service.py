"""The leaderboard: a consumer of domain events over its store (:mod:`.store`), plain Python.

Each points.earned / points.reversed event moves the member's score on the program's boards
(by week, month and all time) and, once the program has a second brand, on the event brand's
three (:func:`model.plan`: while there is one brand, its boards are the program's), with the
bucket counts, in a transaction conditioned on the scores read, with the event's applied
marker: exactly once, and exact. A batch's events share their transactions
(:func:`apply_all`), so a page of bucket counts is written once a batch, not once an event.
Rank: one BatchGet (own score + every bucket page), and for a score in a wide bucket one Query
(exact scores ahead within it). Top N: one Query and one BatchGet of the names.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from chalicelib import config, ids, queues
from chalicelib.brands import store as brands
from chalicelib.bus.catalogue import DomainEvent, PointsEarned, PointsReversed
from chalicelib.bus.consumer import Consumer, scratch
from chalicelib.jobs import job
from chalicelib.leaderboard import model, store
from chalicelib.observability import logger
from chalicelib.store.writes import ATTEMPTS, Contention, backoff

MAX_ITEMS = 100  # a transaction's limit
SCORES = "leaderboard.scores"  # consumer scratch(): (board, member) -> store.Score (None: no item), read for the batch
ROSTER = "leaderboard.roster"  # consumer scratch(): the roster read with them
ROSTER_SECONDS = 60  # how long a container trusts the roster it read last, to choose what to read

_roster: list[Any] = [None, float("-inf")]  # (roster, when read)

Stored = dict[tuple[str, str], store.Score | None]


def roster(fresh: bool = False) -> brands.Roster | None:
    """The program's brands as this container last read them (at most :data:`ROSTER_SECONDS`
    ago). Only chooses which boards to read; what a transaction writes is decided on a roster
    read with the scores it is conditioned on."""
    if fresh or time.monotonic() - _roster[1] > ROSTER_SECONDS:
        _remember(brands.roster())
    return _roster[0]


def _remember(found: brands.Roster | None) -> None:
    _roster[:] = [found, time.monotonic()]


def _states(stored: Stored) -> dict[tuple[str, str], tuple[int, int] | None]:
    return {pair: (score.points, score.unfolded) if score else None for pair, score in stored.items()}


def _read(earnings: list[model.Earning], known: Stored | None = None,
          known_roster: brands.Roster | None = None) -> tuple[Stored, brands.Roster | None]:
    """The scores the earnings move (strongly consistent) and the roster, in one BatchGet (a
    second where a program score turns out to hold points to fold); ``known`` scores and
    ``known_roster`` (from the batch's read) are not read again."""
    zone = config.program_timezone()
    stored: Stored = dict(known or {})
    found = known_roster
    want = model.reads(earnings, found or roster(), zone) - stored.keys()
    if want or found is None:
        fresh, raw = store.scores(want, also=None if found else brands.roster_key())
        stored.update(fresh)
        if found is None and raw:
            found = brands.roster_from_raw(raw)
            _remember(found)
        elif found is None:  # no brand yet, or a tenant from before rosters: built from its brands
            found = roster()
    while missing := model.reads(earnings, found, zone, _states(stored)) - stored.keys():
        stored.update(store.scores(missing)[0])
    return stored, found


def _moves(stored: Stored, new: dict[tuple[str, str], tuple[int, int]]) -> list[store.Move]:
    moves = []
    for (board, member_id), (points, unfolded) in new.items():
        was = stored[(board, member_id)]
        moves.append(store.Move(board, member_id, was.points if was else None, points, was is None or was.counted,
                                ((was.unfolded if was else 0), unfolded) if board.startswith("P:") else None))
    return moves


def _scores(new: dict[tuple[str, str], tuple[int, int]]) -> Stored:
    return {pair: store.Score(points, True, unfolded) for pair, (points, unfolded) in new.items()}


def apply(message_id: str, member_id: str, brand_id: str, delta: int, at: datetime) -> bool:
    """Move the member's score by ``delta`` on every board the earning counts on, once per
    ``message_id``. Scores never go below 0. Returns False if the message was counted before."""
    earning = model.Earning(message_id, member_id, brand_id, delta, at)
    ahead: Stored | None = scratch().get(SCORES)  # the batch's scores, read at once (apply_all)
    new: Stored = {}
    attempts = []

    def moves() -> list[store.Move]:
        first = not attempts and ahead is not None  # later attempts read afresh: something moved
        attempts.append(1)
        stored, found = _read([earning], ahead if first else None, scratch().get(ROSTER) if first else None)
        planned = model.plan([earning], _states(stored), found, config.program_timezone())
        new.clear()
        new.update(_scores(planned))
        return _moves(stored, planned)

    done = store.apply_once(message_id, at, moves)
    if done and ahead is not None:
        ahead.update(new)  # what the next message of this member in the batch starts from
    return done


def apply_all(events: list[PointsEarned | PointsReversed]) -> set[str]:
    """The batch form: apply a batch's events in as few transactions as fit (at most
    :data:`MAX_ITEMS` items each; one for a batch of ten): every event's marker, one score
    update per (board, member) for all of the member's events in it, and each board's bucket
    counts summed into one update per page instead of one per event. The scores and the roster
    come from one strongly consistent BatchGet, and each update is conditioned on them, so a
    stale read or a concurrent transaction cancels the transaction, never counts wrong. Returns
    the ids applied; the others (a transaction cancelled: an event applied before, a score that
    moved, a conflict) go through :func:`apply` one by one, starting from the scores read here."""
    zone = config.program_timezone()
    unique: dict[str, model.Earning] = {}
    for event in events:  # a message twice in one batch counts once
        unique.setdefault(event.id, model.Earning(event.id, event.member_id, event.brand_id, _delta(event), event.at))
    if not unique:
        return set()
    stored, found = _read(list(unique.values()))
    scratch()[SCORES], scratch()[ROSTER] = stored, found
    by_member: dict[str, list[model.Earning]] = {}
    for earning in unique.values():
        by_member.setdefault(earning.member_id, []).append(earning)
    planned = {member: model.plan(earnings, _states(stored), found, zone) for member, earnings in by_member.items()}
    moves = {member: _moves(stored, new) for member, new in planned.items()}

    def transaction(members: list[str]) -> list[dict[str, Any]]:
        markers = {e.id: e.at for member in members for e in by_member[member]}
        return store.transaction(markers, [m for member in members for m in moves[member]],
                                 ids.shard_of(next(iter(markers)), store.HIST_SHARDS))

    applied: set[str] = set()

    def commit(members: list[str], items: list[dict[str, Any]]) -> None:
        if members and len(items) <= MAX_ITEMS and store.commit(items):
            for member in members:
                stored.update(_scores(planned[member]))
                applied.update(e.id for e in by_member[member])

    group: list[str] = []
    items: list[dict[str, Any]] = []
    for member in by_member:  # a member's events stay in one transaction: its scores move once
        candidate = transaction([*group, member])
        if group and len(candidate) > MAX_ITEMS:
            commit(group, items)
            group, candidate = [], transaction([member])
        group.append(member)
        items = candidate
    commit(group, items)
    return applied


def _delta(event: PointsEarned | PointsReversed) -> int:
    return event.points if isinstance(event, PointsEarned) else -event.points


def _moved(event: PointsEarned | PointsReversed) -> None:
    apply(event.id, event.member_id, event.brand_id, _delta(event), event.at)


def consumer() -> Consumer:
    """The leaderboard as a consumer of domain events (see chalicelib.bootstrap)."""
    handlers: dict[type[DomainEvent], Any] = {PointsEarned: _moved, PointsReversed: _moved}
    return Consumer("leaderboard", handlers, prepare=apply_all)


# -- a second brand: fold the program's boards into the first brand's ---------------------------

FOLD_PAGE = 200
FOLD_BATCH = 25  # program scores a transaction folds (two score updates and at most two pages each)


@job("leaderboard.fold")
def fold_job(args: dict[str, Any]) -> dict[str, int]:
    """Fold one page of one segment's unfolded program scores, and pass the rest on as a new message."""
    segment, segments = int(args["segment"]), int(args["segments"])
    pairs, cursor = store.unfolded(segment, segments, FOLD_PAGE, args.get("cursor"))
    folded = sum(fold(pairs[start:start + FOLD_BATCH]) for start in range(0, len(pairs), FOLD_BATCH))
    if cursor:  # the rest of the segment: a message of its own, so no run outlives its Lambda
        queues.send("jobs", {"job": "leaderboard.fold", "args": {**args, "cursor": cursor}})
    logger.info("leaderboard fold page done", extra={"segment": segment, "found": len(pairs),
                                                      "folded": folded, "more": bool(cursor)})
    return {"found": len(pairs), "folded": folded}


def fold(programs: list[tuple[str, str]]) -> int:
    """Move program scores' unfolded points to the first brand's boards, in one transaction
    conditioned on the scores read (a live move may fold one first: it is then left alone).
    Returns how many were folded here."""
    for attempt in range(ATTEMPTS):
        stored, raw = store.scores(programs, also=brands.roster_key())
        found = brands.roster_from_raw(raw) if raw else None
        if found is None:
            return 0
        firsts = {(model.folded_into(board, found), member) for (board, member) in programs
                  if stored[(board, member)] and stored[(board, member)].unfolded}
        stored.update(store.scores(firsts)[0])
        new: dict[tuple[str, str], tuple[int, int]] = {}
        for program in programs:
            model.fold(new, _states(stored), program, found)
        if not new:
            return 0
        if store.commit(store.transaction({}, _moves(stored, new), ids.shard_of(programs[0][1], store.HIST_SHARDS))):
            return sum(1 for pair in new if pair[0].startswith("P:"))
        if len(programs) > 1:  # one moved meanwhile: the others alone
            return sum(fold([program]) for program in programs)
        backoff(attempt)
    raise Contention("The member's scores kept moving; the fold will be retried.")


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


def board(scope: str, period: str, at: datetime) -> str:
    """The board that holds ``scope``'s scores for the period at ``at`` (the only brand's are
    the program's)."""
    return model.board(model.read_scope(scope, roster()), period, at, config.program_timezone())


def standing(board: str, member_id: str) -> dict[str, Any] | None:
    """The member's rank and points on the board (None with no points there)."""
    points, counts = store.score_and_counts(board, member_id)
    if points <= 0:
        return None
    b = model.bucket(points)
    ahead = 0 if model.is_exact(b) else store.ahead_in_bucket(board, b, points)
    return {"rank": model.rank(points, counts, ahead), "points": points}
