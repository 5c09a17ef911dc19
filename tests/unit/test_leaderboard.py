"""The leaderboard's pure parts: buckets, boards and ranks against a brute-force reference."""

import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.brands.store import Roster
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
    earning = model.Earning("e1", "m1", "b1", 10, at)

    coalition = Roster("b0", frozenset({"b0", "b1"}))
    assert model.reads([earning], coalition, "Europe/Amsterdam") == {
        (board, "m1") for board in ("P:W2026-W49", "P:M2026-11", "P:all", "B.b1:W2026-W49", "B.b1:M2026-11",
                                    "B.b1:all")}
    assert model.reads([earning], None, "UTC") == model.reads([earning], coalition, "UTC")  # no roster: as today
    assert model.board("P", "week", at, "UTC") == "P:W2026-W48"


def test_the_only_brand_earns_on_the_program_boards_alone_and_reads_them():
    at = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    alone = Roster("b1", frozenset({"b1"}))
    earning = model.Earning("e1", "m1", "b1", 10, at)
    assert model.reads([earning], alone, "UTC") == {("P:W2026-W48", "m1"), ("P:M2026-11", "m1"), ("P:all", "m1")}
    stored = {("P:all", "m1"): (5, 0), ("P:M2026-11", "m1"): None, ("P:W2026-W48", "m1"): None}
    assert model.plan([earning], stored, alone, "UTC") == {
        ("P:all", "m1"): (15, 10), ("P:M2026-11", "m1"): (10, 10), ("P:W2026-W48", "m1"): (10, 10)}
    assert model.read_scope("B.b1", alone) == "P"
    assert model.read_scope("B.b2", alone) == "B.b2"  # not a brand of the program: nothing there
    assert model.read_scope("B.b1", Roster("b1", frozenset({"b1", "b2"}))) == "B.b1"

    # an earning of another brand folds the program's unfolded points into the first brand's board
    coalition = Roster("b1", frozenset({"b1", "b2"}))
    other = model.Earning("e2", "m1", "b2", 3, at)
    stored = {("P:all", "m1"): (15, 10), ("B.b2:all", "m1"): None}
    assert ("B.b1:all", "m1") not in model.reads([other], coalition, "UTC")
    assert ("B.b1:all", "m1") in model.reads([other], coalition, "UTC", stored)
    stored[("B.b1:all", "m1")] = (5, 0)
    for period in ("M2026-11", "W2026-W48"):
        stored.update({(f"P:{period}", "m1"): (10, 10), (f"B.b1:{period}", "m1"): None,
                       (f"B.b2:{period}", "m1"): None})
    after = model.plan([other], stored, coalition, "UTC")
    assert after[("P:all", "m1")] == (18, 0)
    assert after[("B.b1:all", "m1")] == (15, 0)
    assert after[("B.b2:all", "m1")] == (3, 0)
    assert after[("B.b1:M2026-11", "m1")] == (10, 0)


def test_folding_keeps_every_board_exact_through_a_second_brand_stale_rosters_and_refunds():
    """A seeded simulation: one brand, then a second; earnings and refunds of both, some planned
    on the roster from before (a consumer that read it just before the second brand arrived:
    its transaction commits only if no move since touched the program score, as each update
    is conditioned on what was read), folds at random moments. Every board, read as the
    service reads it, equals a reference that keeps every board apart from the start."""
    at = datetime(2026, 12, 8, 12, tzinfo=UTC)
    for seed in range(40):
        rng = random.Random(seed)
        members = [f"m{i}" for i in range(4)]
        alone, coalition = Roster("a", frozenset({"a"})), Roster("a", frozenset({"a", "b"}))
        stored: dict = {}
        reference: dict = {}
        roster, touched = alone, set()  # members whose program score moved since the second brand
        for step in range(60):
            if step == 20:
                roster = coalition
            member = rng.choice(members)
            if rng.random() < 0.15 and roster is coalition:
                program = ("P:all", member)
                stored.setdefault(program, None)
                first = (model.folded_into("P:all", roster), member)
                stored.setdefault(first, None)
                new: dict = {}
                model.fold(new, stored, program, roster)
                stored.update(new)
                touched.add(member)
                continue
            brand = "a" if roster is alone or rng.random() < 0.5 else "b"
            delta = -rng.randint(1, 40) if rng.random() < 0.25 else rng.randint(1, 30)
            earning = model.Earning(f"e{step}", member, brand, delta, at)
            stale = roster is coalition and brand == "a" and member not in touched and rng.random() < 0.3
            planned_on = alone if stale else roster
            touched |= {member} if planned_on is coalition else set()
            for pair in model.reads([earning], planned_on, "UTC"):
                stored.setdefault(pair, None)
            for pair in model.reads([earning], planned_on, "UTC", stored):
                stored.setdefault(pair, None)
            stored.update(model.plan([earning], stored, planned_on, "UTC"))
            for scope in ("P", f"B.{brand}"):
                key = (f"{scope}:all", member)
                reference[key] = max(0, reference.get(key, 0) + delta)

            for member_ in members:  # every board reads right at every step
                for scope in ("P", "B.a", "B.b"):
                    key = (model.read_scope(scope, roster) + ":all", member_)
                    points = (stored.get(key) or (0, 0))[0]
                    if scope == "B.a" and roster is coalition:  # until folded: the program holds the rest
                        points += (stored.get(("P:all", member_)) or (0, 0))[1]
                    assert points == reference.get((f"{scope}:all", member_), 0), (seed, step, scope, member_)

        for member in members:  # the fold jobs: every board exact as stored
            if ("P:all", member) in stored:
                stored.setdefault(("B.a:all", member), None)
                new = {}
                model.fold(new, stored, ("P:all", member), coalition)
                stored.update(new)
        for (board, member), points in reference.items():
            assert (stored.get((board, member)) or (0, 0)) == (points, 0), (seed, board, member)


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
