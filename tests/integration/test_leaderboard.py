"""The leaderboard on DynamoDB Local: random earnings and refunds, duplicate and concurrent
deliveries; every rank and the top N match a brute-force reference."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime
from unittest import mock

from chalicelib import errors
from chalicelib.leaderboard import model
from tests.bus import deliver, typed


def reference_ranks(scores: dict[str, int]) -> dict[str, int]:
    return {m: 1 + sum(1 for t in scores.values() if t > s) for m, s in scores.items() if s > 0}


def test_ranks_and_top_n_match_brute_force_on_random_data(local_aws):
    from chalicelib.leaderboard import service

    rng, brand_id, now = random.Random(20261123), f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    members = [f"m{uuid.uuid4().hex[:10]}" for _ in range(60)]
    scores = dict.fromkeys(members, 0)
    for step in range(400):
        member = rng.choice(members)
        if scores[member] and rng.random() < 0.2:
            delta = -rng.randint(1, scores[member] + 50)  # a refund may ask for more than is left
        else:
            delta = int(rng.choice([rng.randint(1, 60), rng.lognormvariate(6, 1.5)])) + 1
        message_id = f"msg-{step}"
        assert service.apply(message_id, member, brand_id, delta, now)
        if rng.random() < 0.1:  # redelivered: counted once
            assert not service.apply(message_id, member, brand_id, delta, now)
        scores[member] = max(0, scores[member] + delta)

    expected = reference_ranks(scores)
    for period in model.PERIODS:
        for scope in ("P", f"B.{brand_id}"):
            board = model.board(scope, period, now, "UTC")
            for member in members:
                found = service.standing(board, member)
                assert (found and (found["rank"], found["points"])) == \
                    ((expected[member], scores[member]) if member in expected else None), (board, member)
    board = model.board(f"B.{brand_id}", "all", now, "UTC")
    top = service.top(board, 10)
    ordered = sorted(expected.items(), key=lambda kv: (-scores[kv[0]], kv[0]))
    assert [(row["rank"], row["points"]) for row in top] == [(rank, scores[m]) for m, rank in ordered[:10]]
    assert {row["member_id"] for row in top if row["rank"] < top[-1]["rank"]} <= {m for m, _ in ordered[:10]}


def test_concurrent_messages_for_one_member_all_count_exactly_once(local_aws):
    from chalicelib.leaderboard import service

    brand_id, member, now = f"brand-{uuid.uuid4().hex[:8]}", "m-concurrent", datetime.now(UTC)
    board = model.board(f"B.{brand_id}", "all", now, "UTC")
    other = "m-other"
    service.apply("seed", other, brand_id, 100, now)

    failures = []

    def deliver(i: int) -> None:
        for _ in range(2):  # each message delivered twice
            for _ in range(5):  # as SQS would: a message that gave up under contention comes back
                try:
                    service.apply(f"c-{i}", member, brand_id, 7, now)
                    break
                except errors.ServiceUnavailable as e:
                    failures.append(e)
            else:
                raise AssertionError("a message never got through")

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert service.standing(board, member) == {"rank": 1, "points": 112}  # 16 messages of 7, each once
    assert service.standing(board, other) == {"rank": 2, "points": 100}


def _deliver_batch(messages: list[dict]) -> None:
    assert deliver("leaderboard", [typed(m) for m in messages]) == []


def test_batches_read_their_scores_at_once_and_still_count_each_message_exactly_once(local_aws):
    import botocore.client

    from chalicelib.leaderboard import service

    rng, brand_id, now = random.Random(20261203), f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    members = [f"m{uuid.uuid4().hex[:10]}" for _ in range(8)]  # few: a batch often holds one member twice
    messages = [{"type": "points.earned", "id": f"b-{n}-{uuid.uuid4().hex[:6]}", "member_id": rng.choice(members),
                 "brand_id": brand_id, "event_id": f"e{n}", "points": rng.randint(1, 500), "at": now.isoformat()}
                for n in range(240)]
    deliveries = messages + rng.sample(messages, 60)  # some redelivered, in a later batch
    rng.shuffle(deliveries)
    batches = [deliveries[i:i + 10] for i in range(0, len(deliveries), 10)]
    real = botocore.client.BaseClient._make_api_call
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        _deliver_batch(batches[0])
    reads = [c for c in made.call_args_list if c.args[1] in ("BatchGetItem", "GetItem", "Query")]
    assert len(reads) == 1  # the batch's scores, once; no message read its own
    threads = [threading.Thread(target=lambda chunk: [_deliver_batch(b) for b in chunk], args=(batches[1 + i::4],))
               for i in range(4)]  # four consumers at once: read-ahead scores go stale under them
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    scores = dict.fromkeys(members, 0)
    for message in messages:
        scores[message["member_id"]] += message["points"]
    expected = reference_ranks(scores)
    board = model.board(f"B.{brand_id}", "all", now, "UTC")
    assert {m: service.standing(board, m) for m in members} == {
        m: {"rank": expected[m], "points": scores[m]} for m in members}


def test_members_show_the_name_they_chose_or_an_anonymous_one(local_aws):
    from chalicelib.leaderboard import service

    brand_id, now = f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    service.apply("n1", "m-named", brand_id, 50, now)
    service.apply("n2", "m-anon", brand_id, 40, now)
    service.set_name("m-named", "Ada")
    board = model.board(f"B.{brand_id}", "week", now, "UTC")

    assert [(r["member_display"], r["points"]) for r in service.top(board, 5)] == \
        [("Ada", 50), (model.anonymous_name("m-anon"), 40)]
    service.set_name("m-named", None)
    assert service.top(board, 1)[0]["member_display"] == model.anonymous_name("m-named")


def test_ranks_inside_one_crowded_bucket_are_exact_and_moves_inside_it_write_no_page(local_aws):
    """Every member in the same wide bucket (4096..4351, 256 wide), ties among them: the members
    ahead within the bucket come from its exact-score counts, and a move inside the bucket
    writes no bucket page."""
    import botocore.client

    from chalicelib.leaderboard import service

    rng, brand_id, now = random.Random(20261207), f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    low, high = 4096, 4351
    assert model.bucket(low - 1) != model.bucket(low) == model.bucket(high) != model.bucket(high + 1)
    scores = {f"m{uuid.uuid4().hex[:10]}": rng.choice([4096, 4100, 4100, 4200, 4351, rng.randint(4096, 4351)])
              for _ in range(40)}
    for n, (member, points) in enumerate(scores.items()):
        assert service.apply(f"crowd-{n}", member, brand_id, points, now)
    mover = next(iter(scores))
    real = botocore.client.BaseClient._make_api_call
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        assert service.apply("crowd-move", mover, brand_id, high - scores[mover], now)  # to the bucket's top
    scores[mover] = high
    written = [item for c in made.call_args_list if c.args[1] == "TransactWriteItems"
               for item in c.args[2]["TransactItems"]]
    assert not [i for i in written if "LBC#" in str(i)]  # same bucket on every board: no page written
    expected = reference_ranks(scores)
    board = model.board(f"B.{brand_id}", "all", now, "UTC")
    assert {m: service.standing(board, m) for m in scores} == {
        m: {"rank": expected[m], "points": scores[m]} for m in scores}



def _transactions(made) -> list[list[dict]]:
    return [c.args[2]["TransactItems"] for c in made.call_args_list if c.args[1] == "TransactWriteItems"]


def test_a_batch_shares_its_transaction_and_writes_each_page_once(local_aws):
    """Ten members' earnings in one batch: one transaction with every marker, a score per board
    and member, and each board's bucket pages written once (not once per event); ranks exact."""
    import botocore.client

    from chalicelib.leaderboard import service

    rng, brand_id, now = random.Random(20261208), f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    members = [f"m{uuid.uuid4().hex[:10]}" for _ in range(10)]
    scores = {m: rng.randint(1, 40) for m in members}  # exact buckets: no exact-score items
    messages = [{"type": "points.earned", "id": f"s-{uuid.uuid4().hex[:8]}", "member_id": m, "brand_id": brand_id,
                 "event_id": f"e-{m}", "points": p, "at": now.isoformat()} for m, p in scores.items()]
    real = botocore.client.BaseClient._make_api_call
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        _deliver_batch(messages)
    [items] = _transactions(made)
    keys = [next(iter(item.values()))["Key"]["pk"]["S"] if "Key" in next(iter(item.values()))
            else next(iter(item.values()))["Item"]["pk"]["S"] for item in items]
    assert sum(k.startswith("APPLIED#") for k in keys) == 10
    assert sum(k.startswith("LB#") for k in keys) == 60  # 10 members x 6 boards
    pages = [k for k in keys if k.startswith("LBC#")]
    assert len(pages) == len(set(pages)) == 6  # every score on page 0 of each of the 6 boards

    expected = reference_ranks(scores)
    for period in model.PERIODS:
        board = model.board(f"B.{brand_id}", period, now, "UTC")
        assert {m: service.standing(board, m) for m in members} == {
            m: {"rank": expected[m], "points": scores[m]} for m in members}

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        _deliver_batch(messages)  # the whole batch again: counted before, nothing moves
    assert all(not items or items[0]["Put"]["Item"]["pk"]["S"].startswith("APPLIED#") for items in _transactions(made))
    board = model.board("P", "all", now, "UTC")
    assert {m: service.standing(board, m)["points"] for m in members} == scores


def test_a_batch_too_big_for_one_transaction_splits_by_member_and_counts_each_event_once(local_aws):
    """Wide-bucket scores (an exact-score item per board and score) make ten events too many
    items for one transaction: they split by member, a member's events stay together, and a
    member with two events in the batch has each score written once."""
    import botocore.client

    from chalicelib.leaderboard import service

    rng, brand_id, now = random.Random(20261209), f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    members = [f"m{uuid.uuid4().hex[:10]}" for _ in range(8)]
    messages = [{"type": "points.earned", "id": f"w-{n}-{uuid.uuid4().hex[:6]}", "member_id": m, "brand_id": brand_id,
                 "event_id": f"e{n}", "points": rng.randint(3000, 500000), "at": now.isoformat()}
                for n, m in enumerate(members + members[:2])]
    real = botocore.client.BaseClient._make_api_call
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        _deliver_batch(messages)
    transactions = _transactions(made)
    assert 1 < len(transactions) < len(messages)
    assert all(len(items) <= 100 for items in transactions)
    for member in members[:2]:
        holding = [items for items in transactions if any(member in str(item) for item in items)]
        assert len(holding) == 1  # both of its events in one transaction
        assert sum(f"#{member}" in next(iter(item.values()))["Key"]["pk"]["S"]
                   for item in holding[0] if "Key" in next(iter(item.values()))) == 6  # each board once

    scores = dict.fromkeys(members, 0)
    for message in messages:
        scores[message["member_id"]] += message["points"]
    expected = reference_ranks(scores)
    for period in model.PERIODS:  # (the program's boards hold other tests' members too)
        board = model.board(f"B.{brand_id}", period, now, "UTC")
        assert {m: service.standing(board, m) for m in members} == {
            m: {"rank": expected[m], "points": scores[m]} for m in members}


def test_scores_counted_in_an_earlier_layout_are_recounted_once_while_members_keep_earning(local_aws):
    """After a change of the counts' layout, every score item written before it is counted in
    the new layout exactly once, whichever comes first: the member's own next move (which adds
    it at its new score, taking nothing from counts that were never made) or the recount job,
    running at the same time; then every rank is exact again."""
    from chalicelib import aws, config
    from chalicelib.leaderboard import service, store

    rng, brand_id, now = random.Random(20261210), f"brand-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    board = model.board(f"B.{brand_id}", "all", now, "UTC")
    scores = {f"m{uuid.uuid4().hex[:10]}": rng.choice([rng.randint(1, 2047), rng.randint(2048, 90000)])
              for _ in range(120)}
    client = aws.client("dynamodb")
    for member, points in scores.items():  # as the layout before wrote them: no "counted"
        client.put_item(TableName=config.table_name("standings"), Item={
            **store.score_key(board, member), "points": {"N": str(points)},
            "gsi2pk": {"S": f"RANK#{board}"}, "gsi2sk": {"S": f"{points:013d}#{member}"}})
    assert service.standing(board, next(iter(scores)))["rank"] == 1  # counted nowhere yet: nobody ahead

    movers = rng.sample(sorted(scores), 40)

    def earn() -> None:
        for n, member in enumerate(movers):
            delta = rng.randint(1, 3000)
            assert service.apply(f"mig-{member}-{n}", member, brand_id, delta, now)
            scores[member] += delta

    def recount(segment: int) -> None:
        cursor = None
        while True:  # as the jobs do: a page, then the rest
            moves, cursor = store.uncounted(segment, 3, 25, cursor)
            store.count_in(moves, segment % store.HIST_SHARDS)
            if not cursor:
                return

    threads = [threading.Thread(target=earn)] + [threading.Thread(target=recount, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    expected = reference_ranks(scores)
    assert {m: service.standing(board, m) for m in scores} == {
        m: {"rank": expected[m], "points": scores[m]} for m in scores}
    assert store.uncounted(0, 1, 1000, None)[0] == []  # nothing left to count (in one page here)
    assert service.recount({"segment": 0, "segments": 1}) == {"found": 0, "counted": 0}


def test_one_brand_keeps_only_the_program_boards_then_a_second_brand_folds_them_while_members_earn(local_aws):
    """While the program has one brand its earnings write the program's boards alone (half the
    items) and its boards read as the program's. A second brand arrives: earnings of both,
    refunds among them, move program and brand boards, folding as they go, while the fold
    jobs run at the same time; afterwards every board of the three scopes has exact points
    and ranks, and nothing is left to fold."""
    import botocore.client

    from chalicelib.brands import store as brands
    from chalicelib.leaderboard import service, store

    rng = random.Random(20261208)
    first, second = f"brand-{uuid.uuid4().hex[:8]}", f"brand-{uuid.uuid4().hex[:8]}"
    at = datetime(2011, 3, 15, 12, tzinfo=UTC)  # month and week boards no other test writes
    members = [f"m{uuid.uuid4().hex[:10]}" for _ in range(30)]
    reference: dict[tuple[str, str], int] = {}

    def earning(brand_id: str, member: str, n: int) -> dict:
        refund = reference.get((f"B.{brand_id}", member)) and rng.random() < 0.3
        points = rng.randint(1, 3000)
        for scope in ("P", f"B.{brand_id}"):
            key = (scope, member)
            reference[key] = max(0, reference.get(key, 0) + (-points if refund else points))
        return {"type": "points.reversed" if refund else "points.earned", "id": f"f-{n}-{uuid.uuid4().hex[:6]}",
                "member_id": member, "brand_id": brand_id, "event_id": f"e{n}", "points": points,
                "at": at.isoformat()}

    def set_roster(brand_ids: set[str]) -> None:
        brands._roster_item(first, frozenset(brand_ids)).save()
        service.roster(fresh=True)

    saved = brands.roster()
    try:
        set_roster({first})
        real = botocore.client.BaseClient._make_api_call
        with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
            for start in range(0, 90, 10):
                _deliver_batch([earning(first, rng.choice(members), start + i) for i in range(10)])
        written = [str(item) for items in _transactions(made) for item in items]
        assert written
        assert not [i for i in written if f"B.{first}" in i]
        assert service.board(f"B.{first}", "month", at) == "P:M2011-03"

        set_roster({first, second})
        for start in range(90, 150, 10):  # before any fold job: refunds of the first brand fold first
            _deliver_batch([earning(rng.choice([first, second]), rng.choice(members), start + i) for i in range(10)])

        def earn() -> None:
            for start in range(150, 240, 10):
                _deliver_batch([earning(rng.choice([first, second]), rng.choice(members), start + i)
                                for i in range(10)])

        def fold(segment: int) -> None:
            cursor = None
            while True:  # as the jobs do: a page, then the rest
                found, cursor = store.unfolded(segment, 3, 40, cursor)
                service.fold(found)
                if not cursor:
                    return

        threads = [threading.Thread(target=earn)] + [threading.Thread(target=fold, args=(s,)) for s in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for segment in range(3):  # the second run of the jobs (after any transaction still in flight)
            fold(segment)

        assert service.board(f"B.{first}", "month", at) == f"B.{first}:M2011-03"
        assert store.unfolded(0, 1, 100000, None)[0] == []
        for scope in ("P", f"B.{first}", f"B.{second}"):
            scores = {m: reference.get((scope, m), 0) for m in members}
            expected = reference_ranks(scores)
            for period in ("month", "week") if scope == "P" else model.PERIODS:  # P:all holds other tests' members
                board = service.board(scope, period, at)
                assert {m: service.standing(board, m) for m in members} == {
                    m: ({"rank": expected[m], "points": scores[m]} if m in expected else None) for m in members}, board
            assert {m: (service.standing(service.board(scope, "all", at), m) or {}).get("points", 0)
                    for m in members} == scores
    finally:
        if saved is not None:
            brands._roster_item(saved.first, saved.brand_ids).save()
        service.roster(fresh=True)
