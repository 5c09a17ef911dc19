"""What a tenant pays AWS per operation, counted from the stack's own requests.

Starts the local stack (`make dev`'s `python -m devstack run`) with the meter of
``bench/meter/sitecustomize.py`` loaded in every process: each botocore call of the API, the
queue pollers and every Lambda-like container is recorded with the capacity units DynamoDB
would bill for it (item sizes by DynamoDB's rules, index writes included), and every function
invocation with its duration. Then, on a programme of 20 activities (tiers with multipliers,
limits, a budget, a milestone, conditions; 7 of them triggered by purchases) and ``--members``
members, each phase runs alone and is measured until the stack is quiet again:

- **earn, batched**: ``--events`` purchases through ``POST /v1/events/batch`` (100 a request);
- **earn, single**: ``--single`` purchases, one ``POST /v1/events`` each;
- **redeem**: ``--redemptions`` rewards redeemed by members (``POST /v1/me/redemptions``);
- **balance read**: ``--reads`` ``GET /v1/me/balance``;
- **leaderboard read**: ``--reads`` ``GET /v1/leaderboard`` (top 10 and own rank).

For each it prints AWS requests and DynamoDB units per operation, where the units go (by the
code that wrote them) and dollars per million operations at the list prices below. Idle queue
polls (a receive that returned nothing) are a fixed cost of a deployment, not of an
operation, and are reported apart. Afterwards it checks that every event was processed once.

Usage: ``.venv/bin/python bench/cost.py [--events 2000] [--members 200] [--single 300]
[--redemptions 100] [--reads 200] [--coalition] [--json out.json] [--compare earlier.json]`` (10 events a
member, as in issue 16's 10,000 for 1,000: the meter's own reads make a run slow, about 4 events/s on 2 cores).
The programme's brand is the stack's demo brand (one brand); with ``--coalition`` a second one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from load import Stack, call  # noqa: E402

from chalicelib.resources import CONSUMERS  # noqa: E402

# us-east-1 list prices, as published on the AWS pricing pages (December 2026).
# https://aws.amazon.com/dynamodb/pricing/on-demand/
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6
# https://aws.amazon.com/sqs/pricing/ (standard queues, per 64 KB chunk of a request)
SQS_PER_REQUEST = 0.40 / 1e6
# https://aws.amazon.com/eventbridge/pricing/ (custom events published, per 64 KB chunk)
EVENTBRIDGE_PER_EVENT = 1.00 / 1e6
# https://aws.amazon.com/lambda/pricing/ (x86)
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000166667
LAMBDA_MEMORY_GB = 512 / 1024  # .chalice/config.json lambda_memory_size
# https://aws.amazon.com/api-gateway/pricing/ (REST APIs, first 333 million)
API_GATEWAY_PER_REQUEST = 3.50 / 1e6

QUIET_SECONDS = 4.0  # nothing but idle polls this long: the phase is over

TIERS = {"tiers": [{"id": "bronze", "name": "Bronze", "threshold": 0},
                   {"id": "silver", "name": "Silver", "threshold": 500, "multiplier": 1.5},
                   {"id": "gold", "name": "Gold", "threshold": 2000, "multiplier": 2}],
         "qualification": {"window_months": 12, "grace_days": 30, "warn_days": 14}}


def activities() -> list[dict]:
    """20 activities: 7 on purchases (which all the events are), the rest on other behaviour."""
    purchase = {"event": "purchase"}
    amount = "event.attributes.amount"
    out = [
        {"name": "A point a euro", "trigger": purchase, "reward": {"per_unit": {"fact": amount, "points": 1},
                                                                 "multipliers": {"silver": 1.5, "gold": 2}}},
        {"name": "Big basket bonus", "trigger": purchase,
         "conditions": {"fact": amount, "operator": ">=", "value": 100}, "reward": {"points": 50},
         "limits": [{"scope": "member", "period": "day", "max_times": 1}]},
        {"name": "Fifth purchase", "trigger": purchase,
         "reward": {"points": 100, "milestone": {"metric": "count", "at": 5}}},
        {"name": "Gold members' extra", "trigger": purchase, "audience": {"tiers": ["gold"]}, "reward": {"points": 10}},
        {"name": "Shoes week", "trigger": purchase,
         "conditions": {"fact": "event.attributes.category", "operator": "==", "value": "shoes"},
         "reward": {"points": 20}, "limits": [{"scope": "member", "period": "week", "max_points": 60}]},
        {"name": "Launch budget", "trigger": purchase, "reward": {"points": 5},
         "limits": [{"scope": "activity", "period": "month", "max_points": 100000}]},
        {"name": "Online order", "trigger": purchase, "reward": {"points": 3},
         "conditions": {"fact": "event.channel", "operator": "==", "value": "online"}},
    ]
    others = [("newsletter.signup", 25), ("profile.completed", 50), ("social.like", 5), ("social.share", 10),
              ("social.retweet", 5), ("referral.completed", 200), ("account.opened", 500),
              ("direct_deposit.set_up", 300),
              ("review.posted", 15), ("app.installed", 40), ("survey.completed", 20), ("birthday", 100)]
    out += [{"name": f"On {event}", "trigger": {"event": event}, "reward": {"points": points}}
            for event, points in others]
    return [{**a, "status": "active"} for a in out]


class Meter:
    """The records the stack's processes append to ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.offsets, self.records = directory, {}, []

    def read(self) -> list[dict]:
        for path in self.directory.glob("*.jsonl"):
            with open(path, "rb") as f:
                f.seek(self.offsets.get(path, 0))
                data = f.read()
            complete = data[:data.rfind(b"\n") + 1]
            self.offsets[path] = self.offsets.get(path, 0) + len(complete)
            self.records += [json.loads(line) for line in complete.splitlines() if line]
        return self.records

    def wait_quiet(self, since: float, timeout: float = 1800) -> float:
        """When the last record that is not an idle poll was made, once nothing but idle polls
        has happened for QUIET_SECONDS."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = [r["t"] for r in self.read() if r["t"] >= since and not idle(r)]
            last = max(busy, default=since)
            if time.time() - last > QUIET_SECONDS:
                return last
            time.sleep(0.5)
        raise SystemExit("the stack did not go quiet")


def idle(record: dict) -> bool:
    return record["svc"] == "sqs" and record["op"] == "ReceiveMessage" and not record.get("n")


def summarise(name: str, records: list[dict], operations: int, api_requests: int) -> dict:
    requests_by_op: dict[str, int] = defaultdict(int)
    wcu_by: dict[str, float] = defaultdict(float)
    rcu_by: dict[str, float] = defaultdict(float)
    calls_by: dict[str, int] = defaultdict(int)
    gsi: dict[str, float] = defaultdict(float)
    wcu = rcu = gsi_wcu = sqs = published = delivered = 0.0
    routes = {c.name: set(c.types) for c in CONSUMERS}
    invocations, seconds, wall, idle_polls = 0, 0.0, 0.0, 0
    for r in records:
        if idle(r):
            idle_polls += 1
            continue
        if r["svc"] == "lambda":
            invocations += 1
            seconds += r["seconds"]
            wall += r["wall"]
            continue
        requests_by_op[f"{r['svc']}.{r['op']}"] += 1
        if r["svc"] == "dynamodb":
            calls_by[r["by"]] += 1
            if "wcu" in r:
                wcu += r["wcu"]
                wcu_by[r["by"]] += r["wcu"]
                for index, units in r["gsi"].items():
                    gsi[index] += units
                    gsi_wcu += units
                    wcu_by[r["by"] + " (indexes)"] += units
            rcu += r.get("rcu", 0)
            rcu_by[r["by"]] += r.get("rcu", 0)
        elif r["svc"] == "sqs":
            sqs += r.get("chunks", 1)
        elif r["svc"] == "events" and r["op"] == "PutEvents":
            published += r.get("chunks", 1)
            delivered += sum(kind in types for kind in r.get("types", []) for types in routes.values())
    dynamodb_requests = sum(n for op, n in requests_by_op.items() if op.startswith("dynamodb."))
    dollars = {
        "dynamodb writes": (wcu + gsi_wcu) * DYNAMODB_PER_WRITE_UNIT,
        "dynamodb reads": rcu * DYNAMODB_PER_READ_UNIT,
        "sqs": (sqs + delivered) * SQS_PER_REQUEST,
        "eventbridge": published * EVENTBRIDGE_PER_EVENT,
        "lambda": invocations * LAMBDA_PER_REQUEST + seconds * LAMBDA_MEMORY_GB * LAMBDA_PER_GB_SECOND,
        "api gateway": api_requests * API_GATEWAY_PER_REQUEST,
    }
    per = max(1, operations)
    return {
        "phase": name, "operations": operations,
        "dynamodb_requests": dynamodb_requests / per,
        "requests_by_op": {op: n / per for op, n in sorted(requests_by_op.items())},
        "write_units": (wcu + gsi_wcu) / per, "table_write_units": wcu / per, "index_write_units": gsi_wcu / per,
        "read_units": rcu / per, "sqs_requests": sqs / per, "lambda_invocations": invocations / per,
        "events_published": published / per, "sqs_sends_by_eventbridge": delivered / per,
        "lambda_seconds": seconds / per, "lambda_wall_seconds": wall / per,
        "api_requests": api_requests / per, "idle_polls": idle_polls,
        "write_units_by": {k: v / per for k, v in sorted(wcu_by.items(), key=lambda kv: -kv[1])},
        "read_units_by": {k: v / per for k, v in sorted(rcu_by.items(), key=lambda kv: -kv[1]) if v},
        "requests_by": {k: v / per for k, v in sorted(calls_by.items(), key=lambda kv: -kv[1])},
        "index_write_units_by": {k: v / per for k, v in sorted(gsi.items(), key=lambda kv: -kv[1])},
        "dollars_per_million": {k: v / per * 1e6 for k, v in dollars.items()},
        "dollars_per_million_total": sum(dollars.values()) / per * 1e6,
    }


def show(summary: dict) -> None:
    s = summary
    print(f"\n== {s['phase']}: {s['operations']} operations; per operation:")
    print(f"   DynamoDB requests {s['dynamodb_requests']:.2f}   write units {s['write_units']:.2f} "
          f"(table {s['table_write_units']:.2f}, indexes {s['index_write_units']:.2f})   read units "
          f"{s['read_units']:.2f}   SQS requests {s['sqs_requests']:.2f} (+ {s['sqs_sends_by_eventbridge']:.2f} "
          f"sent by EventBridge)   events published {s['events_published']:.2f}   Lambda invocations "
          f"{s['lambda_invocations']:.3f} ({s['lambda_seconds'] * 1000:.1f} ms billed in AWS, est.; "
          f"{s['lambda_wall_seconds'] * 1000:.0f} ms here)   API requests {s['api_requests']:.2f}")
    print("   requests: " + ", ".join(f"{op} {n:.2f}" for op, n in s["requests_by_op"].items()))
    print("   write units by code: " + ", ".join(f"{k} {v:.2f}" for k, v in s["write_units_by"].items()))
    if s["index_write_units_by"]:
        print("   index write units: " + ", ".join(f"{k} {v:.2f}" for k, v in s["index_write_units_by"].items()))
    print("   read units by code: " + ", ".join(f"{k} {v:.2f}" for k, v in s["read_units_by"].items()))
    print("   DynamoDB requests by code: " + ", ".join(f"{k} {v:.2f}" for k, v in s["requests_by"].items()))
    print("   $ per million: " + ", ".join(f"{k} {v:.2f}" for k, v in s["dollars_per_million"].items())
          + f"; all-in {s['dollars_per_million_total']:.2f}")
    print(f"   idle queue polls in the phase: {s['idle_polls']}")


class Workload:
    def __init__(self, stack: Stack, args) -> None:
        self.stack, self.args, self.api = stack, args, stack.api
        self.session = requests.Session()
        self.rng = random.Random(20261203)

    def setup(self) -> None:
        admin = self.stack.credentials["admin_key"]
        call(self.session, "PUT", self.api + "/v1/tiers", admin, json=TIERS)
        if self.args.coalition:  # a second brand beside the demo one: every board kept per brand too
            brand = call(self.session, "POST", self.api + "/v1/brands", admin, json={"name": "Cost Co"})
        else:  # the stack's demo brand: a programme of one brand, as most are
            brand = {"id": self.stack.credentials["brand_id"], "api_key": self.stack.credentials["brand_key"]}
        self.brand, self.key = brand, brand["api_key"]
        for activity in activities():
            call(self.session, "POST", self.api + "/v1/activities", self.key, json=activity)
        self.rewards = [call(self.session, "POST", self.api + "/v1/rewards", self.key,
                             json={"name": f"Reward {cost}", "cost_points": cost, "stock": 100000})["id"]
                        for cost in (10, 25, 50)]
        with ThreadPoolExecutor(8) as pool:
            self.members = list(pool.map(lambda n: call(requests, "POST", self.api + "/v1/members", self.key, json={
                "email": f"cost-{uuid.uuid4().hex[:10]}@example.com"})["id"], range(self.args.members)))
        # members with a login (the app's): they redeem and read their balance and rank
        self.logged_in = []
        for _ in range(min(20, self.args.members)):
            email, password = f"app-{uuid.uuid4().hex[:10]}@example.com", "cost-bench-password-1"
            login = {"email": email, "password": password}
            signed = call(self.session, "POST", self.api + "/v1/auth/signup", None, json=login)
            tokens = call(self.session, "POST", self.api + "/v1/auth/login", None, json=login)
            call(self.session, "PUT", f"{self.api}/v1/me/enrolments/{brand['id']}", tokens["id_token"])
            self.logged_in.append((signed["id"], tokens["id_token"]))

    def purchase(self, member_id: str) -> dict:
        return {"type": "purchase", "member_id": member_id, "idempotency_key": uuid.uuid4().hex,
                "channel": self.rng.choice(["online", "in_store"]),
                "attributes": {"amount": round(self.rng.uniform(5, 180), 2),
                               "category": self.rng.choice(["shoes", "shirts", "bags", "hats", "socks"])}}

    def earn_batched(self, n: int) -> tuple[list[str], int]:
        members = self.members + [m for m, _ in self.logged_in]
        batches = [[self.purchase(members[(i + j) % len(members)]) for j in range(min(100, n - i))]
                   for i in range(0, n, 100)]

        def send(events):
            items = call(requests, "POST", self.api + "/v1/events/batch", self.key, json={"events": events})["items"]
            return [item["id"] for item in items if item["status"] != "error"]

        with ThreadPoolExecutor(2) as pool:
            ids = [eid for chunk in pool.map(send, batches) for eid in chunk]
        return ids, len(batches)

    def earn_single(self, n: int) -> tuple[list[str], int]:
        members = self.members

        def send(i):
            event = self.purchase(members[i % len(members)])
            return call(requests, "POST", self.api + "/v1/events", self.key, json=event)["id"]

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(send, range(n))), n

    def redeem(self, n: int) -> int:
        def one(i):
            _, token = self.logged_in[i % len(self.logged_in)]
            reward = self.rewards[i % len(self.rewards)]
            reply = requests.post(self.api + "/v1/me/redemptions", json={"reward_id": reward},
                                  headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
                                  timeout=60)
            return reply.status_code

        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(one, range(n)))
        refused = [c for c in codes if c != 201]
        if refused:
            print(f"   ({len(refused)} redemptions refused: {sorted(set(refused))})")
        return len(codes)

    def read(self, path: str, n: int) -> int:
        def one(i):
            _, token = self.logged_in[i % len(self.logged_in)]
            call(requests, "GET", self.api + path, token)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(n)))
        return n

    def check(self, ids: list[str]) -> None:
        def one(eid):
            return call(requests, "GET", f"{self.api}/v1/events/{eid}", self.key)

        with ThreadPoolExecutor(8) as pool:
            events = list(pool.map(one, ids))
        statuses: dict[str, int] = defaultdict(int)
        for e in events:
            statuses[e["status"]] += 1
        print(f"   events: {dict(statuses)}")
        if statuses.get("accepted"):
            raise SystemExit("some events were not processed when the stack went quiet")


def compare(before: list[dict], after: list[dict]) -> None:
    """Each phase's figures per operation, side by side with an earlier run's (``--compare``)."""
    rows = (("DynamoDB requests", "dynamodb_requests", 2), ("write units", "write_units", 1),
            ("read units", "read_units", 1), ("SQS requests", "sqs_requests", 2),
            ("$ per million, all-in", "dollars_per_million_total", 2))
    earlier = {s["phase"]: s for s in before}
    print(f"\n{'per operation':<44}{'before':>10}{'after':>10}{'ratio':>8}")
    for now in after:
        then = earlier.get(now["phase"])
        if then is None:
            continue
        print(now["phase"])
        for label, key, digits in rows:
            ratio = f"{then[key] / now[key]:.2f}x" if now[key] else "-"
            print(f"  {label:<42}{then[key]:>10.{digits}f}{now[key]:>10.{digits}f}{ratio:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--redemptions", type=int, default=100)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--coalition", action="store_true",
                        help="earn with a second brand (the demo brand is the first), not the demo brand alone")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--compare", type=Path, help="an earlier run's --json: print both side by side")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="punchcard-meter-"))
    path = os.pathsep.join([str(ROOT / "bench" / "meter")] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    stack = Stack(env={"PYTHONPATH": path, "PUNCHCARD_METER_DIR": str(directory)})
    meter, results = Meter(directory), []
    try:
        work = Workload(stack, args)
        work.setup()
        meter.wait_quiet(0)
        print(f"stack up; {args.members} members, 20 activities; meter in {directory}", flush=True)

        def phase(name, run):
            started = time.time()
            operations, api_requests, ids = run()
            ended = meter.wait_quiet(started)
            records = [r for r in meter.read() if started <= r["t"] <= ended + QUIET_SECONDS]
            summary = summarise(name, records, operations, api_requests)
            summary["seconds"] = ended - started
            show(summary)
            if ids:
                work.check(ids)
            results.append(summary)

        def batched():
            ids, requests_made = work.earn_batched(args.events)
            return len(ids), requests_made, ids

        def single():
            ids, requests_made = work.earn_single(args.single)
            return len(ids), requests_made, ids

        phase("earn, batched (100 a request)", batched)
        if args.single:
            phase("earn, single posts", single)
        if args.redemptions:
            phase("redeem", lambda: (work.redeem(args.redemptions), args.redemptions, []))
        if args.reads:
            phase("balance read", lambda: (work.read("/v1/me/balance", args.reads), args.reads, []))
            phase("leaderboard read", lambda: (work.read("/v1/leaderboard?period=month&limit=10", args.reads),
                                               args.reads, []))
    finally:
        stack.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.compare:
        compare(json.loads(args.compare.read_text()), results)


if __name__ == "__main__":
    main()
