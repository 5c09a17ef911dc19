"""The leaderboard, pure: which boards an earning counts on, and the score buckets that let a
rank be counted without reading the members above it.

A *board* is a scope (the program, or one brand) and a period (all time, a calendar month, an
ISO week, in the program's timezone): ``P:all``, ``P:M2026-11``, ``B.<brand>:W2026-W47``.

**One brand, one set of boards.** While the program has one brand (the roster, see
:mod:`chalicelib.brands.store`), its boards would be the program's boards over again, so an
earning moves only the program's three (:func:`plan`), and reads of the brand's boards are
served by the program's (:func:`read_scope`). A program score then records, as ``unfolded``,
the points it holds that the first brand's own board does not (brand score = stored + unfolded).
Once a second brand arrives every earning moves the program's and its brand's boards, and
first *folds* a program score's unfolded points into the first brand's board, in the same
transaction; ``leaderboard.fold`` jobs fold the members who do not earn. Scores written before
rosters hold no unfolded points: both boards were kept then.

Rank = 1 + the number of members with a strictly higher score. Scores are grouped into
buckets — exact below 2048 (where most members of most programmes are), then 16 per power of
two (each about 4% wide) — whose member counts live in a few fixed *page* items per board, so
one BatchGet reads the member's own score and every bucket count; the members ahead within
the member's own bucket, for a score in a wide bucket, come from that bucket's exact-score
counts (one Query). Two requests, whatever the board's size.

The counts are *layout* :data:`LAYOUT`: a score item records the layout it is counted in, so a
change of buckets recounts each member once (on its next move, or by ``leaderboard.recount``)
instead of needing the counts rebuilt while nothing moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

EXACT_BITS = 11
EXACT = 1 << EXACT_BITS  # scores below this have a bucket each: a move writes no exact-score item
PER_OCTAVE = 16
PAGE_SIZE = 128  # buckets per page item (attributes b0..b127: under 1 KB while counts stay below 10,000)
LAYOUT = 2  # 1: exact below 64, pages LBHIST# (until December 2026)
MAX_SCORE = 10**12
PERIODS = ("week", "month", "all")


def bucket(score: int) -> int:
    """The bucket of a score (monotonic: a higher score never has a lower bucket)."""
    if score < EXACT:
        return score
    octave = score.bit_length() - 1  # 2**octave <= score < 2**(octave + 1); octave >= EXACT_BITS
    within = (score >> (octave - 4)) & (PER_OCTAVE - 1)  # the 4 bits below the leading one
    return EXACT + (octave - EXACT_BITS) * PER_OCTAVE + within


def is_exact(bucket_: int) -> bool:
    return bucket_ < EXACT


def page_of(bucket_: int) -> int:
    return bucket_ // PAGE_SIZE


PAGES = page_of(bucket(MAX_SCORE)) + 1


def period_key(period: str, at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    if period == "all":
        return "all"
    if period == "month":
        return f"M{local:%Y-%m}"
    year, week, _ = local.isocalendar()
    return f"W{year}-W{week:02d}"


def board(scope: str, period: str, at: datetime, zone: str) -> str:
    """``scope``: ``P`` (the program) or ``B.<brand id>``."""
    return f"{scope}:{period_key(period, at, zone)}"


class Roster(Protocol):
    """The program's brands (:class:`chalicelib.brands.store.Roster`)."""

    first: str

    def only(self, brand_id: str) -> bool: ...


class Earning(NamedTuple):
    """A move of a member's points (an earning, or a reversal: ``delta`` < 0) on every board."""

    id: str
    member_id: str
    brand_id: str
    delta: int
    at: datetime


Pair = tuple[str, str]  # (board, member)
State = tuple[int, int]  # (points, unfolded)


def _alone(roster: Roster | None, brand_id: str) -> bool:
    return roster is not None and roster.only(brand_id)


def read_scope(scope: str, roster: Roster | None) -> str:
    """The scope whose boards hold ``scope``'s scores: the program's, for the only brand's."""
    return "P" if scope.startswith("B.") and _alone(roster, scope[2:]) else scope


def folded_into(program_board: str, roster: Roster) -> str:
    """The first brand's board of the same period as a program board."""
    return f"B.{roster.first}:{program_board.split(':', 1)[1]}"


def reads(earnings: Iterable[Earning], roster: Roster | None, zone: str,
          stored: Mapping[Pair, State | None] | None = None) -> set[Pair]:
    """The scores :func:`plan` needs: the program's boards; the brand's, unless it is the only
    brand; given the program's scores (``stored``), the first brand's where an earning folds."""
    earnings = list(earnings)
    alone_too = {e.member_id for e in earnings if _alone(roster, e.brand_id)}
    out: set[Pair] = set()
    for e in earnings:
        for period in PERIODS:
            program = (board("P", period, e.at, zone), e.member_id)
            out.add(program)
            if _alone(roster, e.brand_id):
                continue
            out.add((board(f"B.{e.brand_id}", period, e.at, zone), e.member_id))
            if roster is not None and stored is not None and program in stored and (
                    (stored[program] or (0, 0))[1] or e.member_id in alone_too):
                out.add((folded_into(program[0], roster), e.member_id))
    return out


def fold(new: dict[Pair, State], stored: Mapping[Pair, State | None], program: Pair, roster: Roster) -> None:
    """Move a program score's unfolded points to the first brand's board of its period."""
    points, unfolded = new.get(program) or stored[program] or (0, 0)
    if not unfolded:
        return
    first = (folded_into(program[0], roster), program[1])
    first_points = (new.get(first) or stored[first] or (0, 0))[0]
    new[first] = (max(0, first_points + unfolded), 0)
    new[program] = (points, 0)


def plan(earnings: Iterable[Earning], stored: Mapping[Pair, State | None], roster: Roster | None,
         zone: str) -> dict[Pair, State]:
    """(points, unfolded) after the earnings, in order, of every (board, member) they move,
    from ``stored`` (as read: None for no score; every pair :func:`reads` names). Scores never
    go below 0. An earning of the only brand moves the program's boards and records the move
    as unfolded; any other folds first, then moves the program's boards and its brand's."""
    new: dict[Pair, State] = {}

    def current(pair: Pair) -> State:
        return new.get(pair) or stored[pair] or (0, 0)

    for e in earnings:
        alone = _alone(roster, e.brand_id)
        for period in PERIODS:
            program = (board("P", period, e.at, zone), e.member_id)
            if not alone and roster is not None:
                fold(new, stored, program, roster)
            points, unfolded = current(program)
            moved = max(0, points + e.delta)
            new[program] = (moved, unfolded + moved - points if alone else unfolded)
            if not alone:
                brand = (board(f"B.{e.brand_id}", period, e.at, zone), e.member_id)
                new[brand] = (max(0, current(brand)[0] + e.delta), 0)
    return new


def rank(score: int, counts_by_bucket: dict[int, int], higher_in_bucket: int) -> int:
    """1 + members strictly ahead: every member of a higher bucket, and those of the member's
    own bucket with a higher score."""
    mine = bucket(score)
    return 1 + sum(n for b, n in counts_by_bucket.items() if b > mine) + higher_in_bucket


def ranked(rows: list[tuple[str, int]], first_rank: int = 1) -> list[tuple[int, str, int]]:
    """(rank, member, score) for rows already sorted by score, highest first: equal scores
    share a rank, the next distinct score's rank counts everyone ahead (1, 2, 2, 4)."""
    out, previous, current = [], None, first_rank
    for i, (member, score) in enumerate(rows):
        if score != previous:
            current, previous = first_rank + i, score
        out.append((current, member, score))
    return out


def recount_jobs(segments: int) -> list[dict]:
    """The ``jobs`` messages that recount every score not counted in :data:`LAYOUT`, a scan
    segment each (``leaderboard.recount``)."""
    return [{"job": "leaderboard.recount", "args": {"segment": segment, "segments": segments}}
            for segment in range(segments)]


def fold_jobs(segments: int = 4) -> list[dict]:
    """The ``jobs`` messages that fold the program boards' single-brand points into the first
    brand's boards when a second brand arrives, a scan segment each (``leaderboard.fold``)."""
    return [{"job": "leaderboard.fold", "args": {"segment": segment, "segments": segments}}
            for segment in range(segments)]


def anonymous_name(member_id: str) -> str:
    return "Member " + hashlib.sha256(member_id.encode()).hexdigest()[:6].upper()
