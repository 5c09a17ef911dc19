"""Leaderboard reads at a million members: requests and latency of top-100 and own-rank.

Loads N members' scores on one board into DynamoDB Local (in memory) — the score items with
their ``ranking`` index keys, the bucket pages and the exact-score items, exactly as
``chalicelib.leaderboard.service.apply`` would leave them, written in bulk — then times
``service.top(board, 100)`` and ``service.standing(board, member)`` for random members, counts
the DynamoDB requests each makes, and checks every sampled rank against a brute-force
reference (bisect over all scores).

Scores are log-normal (median ~400, a long tail into the hundreds of thousands), the shape of
points earned in a real programme: many light members, few heavy ones.

Usage: ``.venv/bin/python bench/leaderboard.py [members]`` (default 1,000,000; loading takes
a few minutes).
"""

from __future__ import annotations

import bisect
import random
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BOARD = "P:all"
PAD = 13


def scores_for(n: int) -> dict[str, int]:
    rng = random.Random(1123)
    return {f"M{i:09d}": int(rng.lognormvariate(6, 1.6)) + 1 for i in range(n)}


def load(scores: dict[str, int]) -> float:
    from chalicelib import aws, config
    from chalicelib.leaderboard import model, store

    table = config.table_name("standings")
    counts: dict[int, store.Counts] = {}  # by shard, as each member's first earning would leave them
    items = []
    for member, points in scores.items():
        counts.setdefault(store.shard_of(member), store.Counts()).move(store.Move(BOARD, member, None, points))
        items.append({**store.score_key(BOARD, member), "points": {"N": str(points)},
                      "counted": {"N": str(model.LAYOUT)},
                      "gsi2pk": {"S": f"RANK#{BOARD}"}, "gsi2sk": {"S": f"{points:0{PAD}d}#{member}"}})
    summed: dict[tuple[str, str], dict] = {}  # an exact-score item is one for all shards: its counts add up
    for shard, by_shard in counts.items():
        for key, values in by_shard.rows(shard):
            item = summed.setdefault((key["pk"]["S"], key["sk"]["S"]), {"key": key, "values": Counter()})
            item["values"].update(values)
    items += [{**item["key"], **{name: {"N": str(n)} for name, n in item["values"].items()}}
              for item in summed.values()]

    def write(chunk: list[dict]) -> None:
        client, pending = aws.client("dynamodb"), [{"PutRequest": {"Item": item}} for item in chunk]
        while pending:
            reply = client.batch_write_item(RequestItems={table: pending})
            pending = reply.get("UnprocessedItems", {}).get(table, [])

    started = time.perf_counter()
    chunks = [items[i:i + 25] for i in range(0, len(items), 25)]
    with ThreadPoolExecutor(8) as pool:
        for done, _ in enumerate(pool.map(write, chunks)):
            if done and done % 8000 == 0:
                print(f"  loaded {done * 25:,} of {len(items):,} items", flush=True)
    return time.perf_counter() - started


def measure(fn, runs: int, requests: Counter) -> tuple[list[float], float]:
    times = []
    before = sum(requests.values())
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, (sum(requests.values()) - before) / runs


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    from local_dynamodb import dynamodb_local

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    scores = scores_for(n)
    with dynamodb_local():
        from chalicelib import aws
        from chalicelib.leaderboard import service

        print(f"loading {n:,} members ...", flush=True)
        seconds = load(scores)
        print(f"loaded in {seconds:.0f} s")
        requests: Counter = Counter()
        aws.client("dynamodb").meta.events.register(
            "before-send.dynamodb.*", lambda event_name, **_: requests.update([event_name.rsplit(".", 1)[-1]]))

        ordered = sorted(scores.values())
        rng = random.Random(5)
        sample = rng.sample(sorted(scores), 1000)
        wrong = 0

        def own_rank(member=None):
            nonlocal wrong
            member = member or rng.choice(sample)
            found = service.standing(BOARD, member)
            expected = 1 + len(ordered) - bisect.bisect_right(ordered, scores[member])
            wrong += found["rank"] != expected

        service.top(BOARD, 100)  # warm up the connection
        own_rank()
        top_times, top_requests = measure(lambda: service.top(BOARD, 100), 200, requests)
        rank_times, rank_requests = measure(own_rank, 1000, requests)
        top = service.top(BOARD, 100)
        assert [row["points"] for row in top] == sorted(scores.values(), reverse=True)[:100]
        print(f"\n{n:,} members on one board (DynamoDB Local, in memory)")
        print(f"{'query':<12}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
        for name, times, reqs in (("top-100", top_times, top_requests), ("own rank", rank_times, rank_requests)):
            print(f"{name:<12}{reqs:>10.2f}{pct(times, 50):>10.1f}{pct(times, 95):>10.1f}{pct(times, 99):>10.1f}")
        print(f"ranks checked against brute force: {1000 + 1} sampled, {wrong} wrong; top-100 matches")
        print(f"requests by operation: {dict(requests)}")


if __name__ == "__main__":
    main()
