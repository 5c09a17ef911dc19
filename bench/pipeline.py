"""Earn-pipeline handler CPU per event, for SQS batches of 10.

The workload of ``bench/rules.py`` (100 activities over 10 event types, selective mix, a
quarter of them with a member limit) and 1,000 events for 50 members, delivered as SQS
batches of 10 through the same Powertools ``BatchProcessor`` the Lambda handler uses. Each
record: parse, decide (counters guard + claim), evaluate, grant each outcome (limits read and
decided, guards committed with the grant).

- **in memory**: the pipeline on the in-memory ledger store: CPU per event of everything but
  AWS I/O (batch processing, JSON, facts, rules, limits, the ledger model).
- **DynamoDB Local**: the same on the DynamoDB ledger store: CPU per event in this process
  including pynamodb/botocore serialisation and signing (the client side of AWS I/O), and the
  DynamoDB requests per event.

Usage: ``.venv/bin/python bench/pipeline.py [events]`` (default 1000).
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


class _SQSEvent:
    """What Chalice hands an SQS handler: ``to_dict()`` and ``context``."""

    def __init__(self, records: list[dict]) -> None:
        self._event, self.context = {"Records": records}, None

    def to_dict(self) -> dict:
        return self._event


def _records(events) -> list[dict]:
    return [{"messageId": f"m{i}", "receiptHandle": "r", "body": json.dumps({"event_id": event.id}),
             "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "bench",
                            "ApproximateFirstReceiveTimestamp": "0"},
             "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:eu-west-1:000000000000:events", "awsRegion": "eu-west-1"}
            for i, event in enumerate(events)]


def build(n_events: int):
    from rules import workload

    from chalicelib.events.pipeline import Event
    from chalicelib.rules.activity import compile_activity
    from chalicelib.rules.engine import Ruleset

    definitions, samples = workload(100, mix="selective")
    rng = random.Random(11)
    for definition in definitions:
        if rng.random() < 0.25:
            definition["limits"] = [{"scope": "member", "period": "day", "max_times": 3}]
    ruleset = Ruleset([compile_activity(d, activity_id=d["id"], version=1, brand_id="b") for d in definitions])
    events = []
    for n in range(n_events):
        facts, member = samples[n % len(samples)]
        events.append((Event(f"ev{n}", "b", f"m{n % 50}", facts["type"], AT, facts["attributes"]), member))
    return ruleset, events


def run(store, decisions, ruleset, events, members) -> tuple[float, float, int]:
    """(user CPU µs/event, system CPU µs/event, points granted)."""
    from chalicelib.events.pipeline import Pipeline
    from chalicelib.handlers.sqs import process_batch
    from chalicelib.ledger.service import Ledger

    pipeline = Pipeline(Ledger(store, lambda: AT), decisions, lambda brand: ruleset,
                        lambda member_id, at: dict(members[member_id]), ZoneInfo("UTC"))
    by_id = {event.id: event for event, _ in events}
    granted = 0

    def record_handler(record):
        nonlocal granted
        result = pipeline.process(by_id[json.loads(record.body)["event_id"]])
        granted += sum(o["points"] for o in result["outcomes"])

    before = resource.getrusage(resource.RUSAGE_SELF)
    for start in range(0, len(events), 10):
        reply = process_batch(_SQSEvent(_records([e for e, _ in events[start:start + 10]])), record_handler)
        assert not reply["batchItemFailures"], reply
    after = resource.getrusage(resource.RUSAGE_SELF)
    return ((after.ru_utime - before.ru_utime) / len(events) * 1e6,
            (after.ru_stime - before.ru_stime) / len(events) * 1e6, granted)


def main() -> None:
    n_events = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    from chalicelib.events.decisions import MemoryDecisions
    from chalicelib.ledger.memory import MemoryLedgerStore

    def memory():
        store = MemoryLedgerStore()
        return store, MemoryDecisions(store.guards)

    ruleset, events = build(n_events)
    members = {event.member_id: member for event, member in events}
    run(*memory(), ruleset, events[:50], members)  # warm up (imports, caches)
    user, system, memory_points = run(*memory(), ruleset, events, members)
    print(f"events: {n_events} in SQS batches of 10; 100 activities (selective), 25% with a member limit")
    print(f"in memory       CPU user {user:7.1f} µs/event  system {system:7.1f}   points granted {memory_points}")

    from local_dynamodb import dynamodb_local

    with dynamodb_local():
        from chalicelib.events import store as decisions
        from chalicelib.ledger.dynamo import DynamoLedgerStore

        store = DynamoLedgerStore()
        calls: Counter[str] = Counter()
        from chalicelib.store.ledger import LedgerTable

        clients = {id(c): c for c in (store.connection.client, LedgerTable._get_connection().connection.client)}
        for client in clients.values():  # one shared client per process (store/base.py): count each call once
            client.meta.events.register("before-call.dynamodb.*", lambda model, **kw: calls.update([model.name]))
        wall = time.perf_counter()
        user, system, dynamo_points = run(store, decisions, ruleset, events, members)
        wall = (time.perf_counter() - wall) / len(events) * 1e3
        assert dynamo_points == memory_points, (dynamo_points, memory_points)
        per_event = ", ".join(f"{name} {count / len(events):.2f}" for name, count in sorted(calls.items()))
        print(f"DynamoDB Local  CPU user {user:7.1f} µs/event  system {system:7.1f}   points granted "
              f"{dynamo_points} (same)   wall {wall:.1f} ms/event")
        print(f"DynamoDB requests per event: {per_event}")


if __name__ == "__main__":
    main()
