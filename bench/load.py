"""Load on the local stack (`make dev`): events accepted in batches, drained by the pipeline.

Starts `python -m devstack` on free ports with a throwaway state directory, takes its demo brand
(or, with ``--coalition``, makes a second), an activity (1 point per purchase) and members, then:

1. **burst**: ``--burst`` events through ``POST /v1/events/batch`` (batches of ``--batch``, 4
   clients at once) as fast as the API takes them: events accepted per second; then how long
   the pipeline takes to process them all.
2. **steady**: ``--rate`` events/s (batches of 10) for ``--duration`` seconds; then accept →
   processed latency from each event's own ``accepted_at`` and ``processed_at``; and the CPU
   each part of the stack used per steady event (DynamoDB Local's JVM, the stack process with
   moto and the gateway, the containers), from ``/proc``, from the first steady send to the
   last steady event processed. It says where the drain's time goes, and it compares two
   versions of the code better than latency, which turns into a backlog once the cores are full.

At the end every accepted event must be processed once: *lost* = accepted but not processed
within a grace period; *duplicated* = points granted beyond one per event (member balances)
or an event with more than one outcome.

Usage: ``.venv/bin/python bench/load.py [--duration 300] [--rate 20] [--burst 1000] [--coalition]``;
``PUNCHCARD_API_CONCURRENCY`` / ``PUNCHCARD_QUEUE_CONCURRENCY`` are passed to the stack.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.processes import free_port  # noqa: E402


class Stack:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="punchcard-load-")) / "local"
        self.state.mkdir()
        self.port = free_port()
        env = {**os.environ, "PUNCHCARD_PORT": str(self.port), "PUNCHCARD_DYNAMODB_PORT": str(free_port()),
               "PUNCHCARD_MOTO_PORT": str(free_port()), "PUNCHCARD_STATE_DIR": str(self.state),
               "POWERTOOLS_LOG_LEVEL": "WARNING", **(env or {})}
        self.log = open(self.state.parent / "stack.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, "-m", "devstack", "run"], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        credentials = self.state / "credentials.json"
        deadline = time.monotonic() + 120
        while not credentials.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the stack did not start; see {self.state.parent / 'stack.log'}")
            time.sleep(0.25)
        self.credentials = json.loads(credentials.read_text())
        self.api = self.credentials["api"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def cpu_by_part(root: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each part of the stack: the stack process
    (gateway, moto, pollers), DynamoDB Local's JVM, and the containers (API and queue
    consumers), read from ``/proc`` for ``root`` and its descendants. Linux only ({} elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, used, commands = {}, {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else []):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            commands[int(pid)] = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parents[int(pid)], used[int(pid)] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    parts: dict[str, float] = {}
    for pid in used:
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor != root:
            continue
        part = ("stack process" if pid == root else "DynamoDB Local" if b"DynamoDBLocal" in commands[pid]
                else "containers")
        parts[part] = parts.get(part, 0.0) + used[pid]
    return parts


def call(session, method, url, key, **kwargs):
    reply = session.request(method, url, headers={"Authorization": f"Bearer {key}"}, timeout=60, **kwargs)
    if reply.status_code >= 300:
        raise RuntimeError(f"{method} {url}: {reply.status_code} {reply.text[:300]}")
    return reply.json()


def setup(stack: Stack, members: int, coalition: bool = False) -> tuple[str, list[str]]:
    """The stack's demo brand (a programme of one brand) or, with ``coalition``, a second one."""
    session = requests.Session()
    if coalition:
        key = call(session, "POST", stack.api + "/v1/brands", stack.credentials["admin_key"],
                   json={"name": "Load"})["api_key"]
    else:
        key = stack.credentials["brand_key"]
    call(session, "POST", stack.api + "/v1/activities", key, json={
        "name": "a point a purchase", "status": "active", "trigger": {"event": "purchase"}, "reward": {"points": 1}})
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: call(requests, "POST", stack.api + "/v1/members", key,
                                           json={"email": f"load-{uuid.uuid4().hex[:10]}@example.com"})["id"],
                            range(members)))
    return key, ids


def send_batch(session, stack, key, member_ids, size, n0) -> list[str]:
    events = [{"type": "purchase", "member_id": member_ids[(n0 + i) % len(member_ids)],
               "idempotency_key": uuid.uuid4().hex} for i in range(size)]
    items = call(session, "POST", stack.api + "/v1/events/batch", key, json={"events": events})["items"]
    bad = [i for i in items if i["status"] == "error"]
    if bad:
        raise RuntimeError(f"events refused: {bad[:2]}")
    return [i["id"] for i in items]


def fetch(stack, key, ids: list[str]) -> dict[str, dict]:
    local = threading.local()

    def one(eid):
        local.session = getattr(local, "session", None) or requests.Session()
        return eid, call(local.session, "GET", f"{stack.api}/v1/events/{eid}", key)

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, ids))


def wait_processed(stack, key, ids: list[str], grace: float) -> tuple[dict[str, dict], float]:
    """Poll until every event left ``accepted`` (or the grace period ends); returns them and
    when the last was processed (its own ``processed_at``). Gently: the 20 oldest still pending,
    once a second (a GET is an API request, and polling hundreds a second took CPU from the
    drain it measures); as soon as those are done, the next 20."""
    pending, done = list(ids), {}
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        sample = fetch(stack, key, pending[:20])  # the oldest first: they are done first
        finished = {eid: e for eid, e in sample.items() if e["status"] != "accepted"}
        done.update(finished)
        pending = [eid for eid in pending if eid not in done]
        if pending and len(finished) < len(sample):
            time.sleep(1)
    last = max((parse(e["processed_at"]) for e in done.values() if e.get("processed_at")), default=time.time())
    return done, time.monotonic() - (time.time() - last)


def parse(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def check_once(stack, key, member_ids, events: dict[str, dict], accepted: int) -> tuple[int, int]:
    """(lost, duplicated) over everything accepted in the run."""
    granted_events = sum(1 for e in events.values() if e["status"] == "processed")
    multiple = sum(1 for e in events.values()
                   if len([o for o in e.get("outcomes", []) if o["status"] == "granted"]) > 1)
    with ThreadPoolExecutor(8) as pool:
        balances = list(pool.map(lambda m: call(requests, "GET", f"{stack.api}/v1/members/{m}/balance", key),
                                 member_ids))
    points = sum(int(b["lifetime_earned"]) for b in balances)
    return accepted - len(events), multiple + max(0, points - granted_events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of steady load (default 300)")
    parser.add_argument("--rate", type=float, default=20, help="steady events per second (default 20)")
    parser.add_argument("--burst", type=int, default=1000, help="events in the accept burst (0: none)")
    parser.add_argument("--batch", type=int, default=50, help="events per batch in the burst")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--coalition", action="store_true",
                        help="a second brand sends the events (default: the demo brand alone)")
    args = parser.parse_args()

    stack = Stack()
    try:
        key, member_ids = setup(stack, args.members, args.coalition)
        accepted: list[str] = []
        print(f"stack up; api containers {os.environ.get('PUNCHCARD_API_CONCURRENCY', 'default')}, "
              f"queue concurrency {os.environ.get('PUNCHCARD_QUEUE_CONCURRENCY', 'default')}", flush=True)

        if args.burst:
            batches = args.burst // args.batch
            started = time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                sessions = threading.local()

                def burst_batch(n):
                    sessions.s = getattr(sessions, "s", None) or requests.Session()
                    t0 = time.monotonic()
                    ids = send_batch(sessions.s, stack, key, member_ids, args.batch, n * args.batch)
                    return ids, time.monotonic() - t0

                results = list(pool.map(burst_batch, range(batches)))
            took = time.monotonic() - started
            burst_ids = [eid for ids, _ in results for eid in ids]
            accepted += burst_ids
            per_batch = sorted(t for _, t in results)
            print(f"burst: {len(burst_ids)} events in {took:.1f} s = {len(burst_ids) / took:.1f} events/s accepted "
                  f"(batch of {args.batch}: p50 {per_batch[len(per_batch) // 2]:.2f} s, "
                  f"max {per_batch[-1]:.2f} s)", flush=True)
            done, finished = wait_processed(stack, key, burst_ids, grace=600)
            print(f"burst drained: {len(done)} of {len(burst_ids)} processed {finished - started:.1f} s after the "
                  f"burst began = {len(done) / (finished - started):.1f} events/s", flush=True)

        steady: list[str] = []
        if args.duration:
            session = requests.Session()
            cpu_before = cpu_by_part(stack.process.pid)
            started = time.monotonic()
            n = 0
            while time.monotonic() - started < args.duration:
                steady += send_batch(session, stack, key, member_ids, 10, n)
                n += 10
                time.sleep(max(0.0, started + n / args.rate - time.monotonic()))
            took = time.monotonic() - started
            print(f"steady: {len(steady)} events in {took:.0f} s = {len(steady) / took:.1f} events/s", flush=True)
            accepted += steady
            done, _ = wait_processed(stack, key, steady, grace=120)
            cpu_after = cpu_by_part(stack.process.pid)
            if cpu_after and done:  # from the first steady send to the last steady event processed
                used = {part: cpu_after[part] - cpu_before.get(part, 0.0) for part in cpu_after}
                print("steady: CPU per event " + ", ".join(
                    f"{part} {1000 * used[part] / len(done):.1f} ms" for part in sorted(used))
                    + f"; all {1000 * sum(used.values()) / len(done):.1f} ms", flush=True)
            latencies = sorted(parse(e["processed_at"]) - parse(e["accepted_at"])
                               for e in done.values() if e.get("processed_at"))
            if latencies:
                p = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
                print(f"steady: accept -> processed p50 {p[49]:.2f} s, p95 {p[94]:.2f} s, p99 {p[98]:.2f} s, "
                      f"max {latencies[-1]:.2f} s", flush=True)

        events = fetch(stack, key, accepted)
        events = {eid: e for eid, e in events.items() if e["status"] != "accepted"}
        lost, duplicated = check_once(stack, key, member_ids, events, len(accepted))
        print(f"all: {len(accepted)} accepted, {len(events)} processed, {lost} lost, {duplicated} duplicated",
              flush=True)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
