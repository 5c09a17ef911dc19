"""The leaderboard's pure parts: buckets, boards and ranks against a brute-force reference."""

import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.leaderboard import model


@given(st.integers(0, model.MAX_SCORE), st.integers(0, model.MAX_SCORE))
def test_buckets_keep_the_order_of_scores(a, b):
    if a < b:
        assert model.bucket(a) <= model.bucket(b)
    assert model.page_of(model.bucket(max(a, b))) < model.PAGES


def test_buckets_are_exact_below_2048_then_sixteen_per_power_of_two():
    assert [model.bucket(s) for s in (0, 1, 63, 1500, 2047)] == [0, 1, 63, 1500, 2047]
    assert model.bucket(2048) == 2048
    assert model.bucket(2048 + 127) == 2048  # 2048..2175 share a bucket (1/16 of an octave is 128 wide here)
    assert model.bucket(2048 + 128) == 2049
    assert model.bucket(4096) == 2048 + 16
    assert len({model.bucket(s) for s in range(1 << 20, 1 << 21)}) == 16
    assert model.PAGES == 20  # x 2 shards + the score: one BatchGet


def test_boards_cover_program_and_brand_for_each_period_in_the_program_timezone():
    at = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # Monday 30 November in Amsterdam

    assert model.boards("b1", at, "Europe/Amsterdam") == ["P:W2026-W49", "P:M2026-11", "P:all",
                                                           "B.b1:W2026-W49", "B.b1:M2026-11", "B.b1:all"]
    assert model.board("P", "week", at, "UTC") == "P:W2026-W48"


def test_ties_share_a_rank_and_the_next_rank_counts_everyone_ahead():
    rows = [("a", 90), ("b", 70), ("c", 70), ("d", 50)]

    assert model.ranked(rows) == [(1, "a", 90), (2, "b", 70), (2, "c", 70), (4, "d", 50)]


def test_rank_from_bucket_counts_matches_brute_force():
    rng = random.Random(7)
    scores = [int(rng.lognormvariate(6, 2)) + 1 for _ in range(5000)]
    counts: dict[int, int] = {}
    for s in scores:
        counts[model.bucket(s)] = counts.get(model.bucket(s), 0) + 1
    for s in rng.sample(scores, 200):
        ahead_in_bucket = sum(1 for t in scores if t > s and model.bucket(t) == model.bucket(s))
        assert model.rank(s, counts, ahead_in_bucket) == 1 + sum(1 for t in scores if t > s)
