"""The leaderboard, pure: which boards an earning counts on, and the score buckets that let a
rank be counted without reading the members above it.

A *board* is a scope (the program, or one brand) and a period (all time, a calendar month, an
ISO week, in the program's timezone): ``P:all``, ``P:M2026-11``, ``B.<brand>:W2026-W47``.

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
from datetime import datetime
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


def boards(brand_id: str, at: datetime, zone: str) -> list[str]:
    """Every board an earning with ``brand_id`` at ``at`` counts on."""
    return [board(scope, period, at, zone) for scope in ("P", f"B.{brand_id}") for period in PERIODS]


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


def anonymous_name(member_id: str) -> str:
    return "Member " + hashlib.sha256(member_id.encode()).hexdigest()[:6].upper()
