"""What each ledger operation costs on DynamoDB: requests, capacity, item sizes, CPU.

Starts its own DynamoDB Local (in memory), provisions the tables, then runs each operation
``n`` times on fresh members and reports per operation:

- DynamoDB requests by API (counted on the botocore client pynamodb uses);
- write and read capacity as DynamoDB Local reports it (``ReturnConsumedCapacity=TOTAL``),
  cross-checked against the transaction rule (2 WCU per item per started KB);
- the largest item each operation writes (DynamoDB's size rule: names + values);
- CPU µs per operation in this process, user and system (model, pynamodb and botocore
  serialisation, signing, the loopback TCP stack — all but the wait for I/O), and the pure
  model's CPU µs on the in-memory store;
- wall-clock p50/p95 against DynamoDB Local (for context: a local JVM, not the AWS service).

Usage: ``.venv/bin/python bench/ledger.py [n]`` (default 200).
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 6, 1, tzinfo=UTC)
READ_OPS = {"GetItem", "Query", "Scan", "TransactGetItems", "BatchGetItem"}


def item_size(item: dict) -> int:
    """DynamoDB's item size: attribute name lengths plus value sizes."""
    def value_size(value: dict) -> int:
        (kind, raw), = value.items()
        if kind == "S":
            return len(raw.encode())
        if kind == "N":
            digits = raw.lstrip("-").replace(".", "").lstrip("0") or "0"
            return math.ceil(len(digits) / 2) + 1
        if kind == "BOOL" or kind == "NULL":
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
        if kind == "L":
            return 3 + sum(value_size(v) + 1 for v in raw)
        return len(str(raw))
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


class Meter:
    """Counts requests and capacity on a botocore client's event hooks."""

    def __init__(self, client) -> None:
        self.calls: Counter = Counter()
        self.wcu = self.rcu = self.rule_wcu = 0.0
        self.largest_item = self.tx_items = 0
        events = client.meta.events
        events.register("before-parameter-build.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)

    def _before(self, params, model, **_):
        if model.name in ("TransactWriteItems", "GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem",
                          "Scan", "TransactGetItems"):
            params["ReturnConsumedCapacity"] = "TOTAL"
        for entry in params.get("TransactItems", []):
            # the transaction rule: 2 WCU per item per started KB; updated and deleted items here
            # are books, lots and holds, all well under 1 KB (see the item table in BENCHMARKS.md)
            size = item_size(entry["Put"]["Item"]) if "Put" in entry else 1
            self.largest_item = max(self.largest_item, size)
            self.tx_items += 1
            self.rule_wcu += 2 * max(1, math.ceil(size / 1024))

    def _after(self, http_response, parsed, model, **_):
        self.calls[model.name] += 1
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            units = entry.get("CapacityUnits", 0)
            write = entry.get("WriteCapacityUnits")
            read = entry.get("ReadCapacityUnits")
            if write is not None or read is not None:
                self.wcu += write or 0
                self.rcu += read or 0
            elif model.name in READ_OPS:
                self.rcu += units
            else:
                self.wcu += units

    def reset(self) -> None:
        self.calls.clear()
        self.wcu = self.rcu = self.rule_wcu = 0.0
        self.largest_item = self.tx_items = 0


def scenarios(ledger, ids):
    """(name, setup, operation) per ledger operation; setup runs unmetered."""
    def funded(member, points=500, lots=1):
        for i in range(lots):
            ledger.grant(f"{member}-f{i}", member, "brand", points // lots, expires_at=NOW + timedelta(days=30 + i))

    def held(member):
        funded(member)
        ledger.hold(f"{member}-h", member, 100)

    def granted_twice(member):
        ledger.grant(f"{member}-g0", member, "brand", 10, expires_after="P12M")

    return [
        ("grant (new lot)", lambda m: None,
         lambda m: ledger.grant(f"{m}-g", m, "brand", 100, expires_after="P12M")),
        ("grant (existing lot)", granted_twice,
         lambda m: ledger.grant(f"{m}-g", m, "brand", 100, expires_after="P12M")),
        ("grant replay", lambda m: ledger.grant(f"{m}-g", m, "brand", 100, expires_after="P12M"),
         lambda m: ledger.grant(f"{m}-g", m, "brand", 100, expires_after="P12M")),
        ("hold", funded, lambda m: ledger.hold(f"{m}-h", m, 100)),
        ("post (partial)", held, lambda m: ledger.post(f"{m}-p", f"{m}-h", 60)),
        ("void", held, lambda m: ledger.void(f"{m}-v", f"{m}-h")),
        ("redeem (hold + post)", funded, lambda m: ledger.redeem(f"{m}-r", m, 100)),
        ("redeem across 5 lots", lambda m: funded(m, 500, 5), lambda m: ledger.redeem(f"{m}-r", m, 450)),
        ("adjust (debit)", funded, lambda m: ledger.adjust(f"{m}-a", m, -50, "correction")),
        ("reverse a grant", funded, lambda m: ledger.reverse(f"{m}-x", f"{m}-f0", 50)),
        ("transfer to member", funded, lambda m: ledger.transfer(f"{m}-t", m, f"{m}-friend", 50)),
        ("balance (read)", funded, lambda m: ledger.store.book(m)),
        ("history page of 50 (read)", funded, lambda m: ledger.store.history(m, 50)),
    ]


def run(n: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from local_dynamodb import dynamodb_local

    with dynamodb_local():
        measure(n)


def measure(n: int) -> None:
    from chalicelib.ledger.dynamo import DynamoLedgerStore
    from chalicelib.ledger.memory import MemoryLedgerStore
    from chalicelib.ledger.service import Ledger

    store = DynamoLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant(f"warm-{uuid.uuid4().hex}", "warm", "brand", 1)  # describe-table and connections, once
    meter = Meter(store.connection.client)
    # pynamodb's model-level reads (get, query) go through the table's own connection
    from chalicelib.store.ledger import LedgerTable
    table_client = LedgerTable._get_connection().connection.client
    table_meter = Meter(table_client) if table_client is not store.connection.client else None

    print(f"ledger operations on DynamoDB Local, n={n} each, python {sys.version.split()[0]}")
    print(f"{'operation':26} {'requests per op':44} {'items':>5} {'WCU rule':>8} {'WCU local':>9} {'RCU':>5} "
          f"{'max put B':>9} {'user µs':>7} {'sys µs':>6} {'model µs':>8} {'p50 ms':>6} {'p95 ms':>6}")
    for name, setup, operation in scenarios(ledger, None):
        members = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(n)]
        for member in members:
            setup(member)
        meter.reset()
        if table_meter:
            table_meter.reset()
        walls, cpu_start = [], resource.getrusage(resource.RUSAGE_SELF)
        for member in members:
            started = time.perf_counter()
            operation(member)
            walls.append((time.perf_counter() - started) * 1000)
        cpu_end = resource.getrusage(resource.RUSAGE_SELF)
        user = (cpu_end.ru_utime - cpu_start.ru_utime) / n * 1e6
        system = (cpu_end.ru_stime - cpu_start.ru_stime) / n * 1e6
        calls = meter.calls + (table_meter.calls if table_meter else Counter())
        wcu = meter.wcu + (table_meter.wcu if table_meter else 0)
        rcu = meter.rcu + (table_meter.rcu if table_meter else 0)
        per_op = ", ".join(f"{count / n:g} {api}" for api, count in sorted(calls.items()))
        model_us = model_cpu(name, MemoryLedgerStore, Ledger, n)
        print(f"{name:26} {per_op:44} {meter.tx_items / n:5.1f} {meter.rule_wcu / n:8.1f} {wcu / n:9.1f} "
              f"{rcu / n:5.1f} {meter.largest_item:9d} {user:7.0f} {system:6.0f} {model_us:8.1f} "
              f"{statistics.median(walls):6.1f} {statistics.quantiles(walls, n=20)[18]:6.1f}")


def model_cpu(name: str, memory_store, ledger_cls, n: int) -> float:
    """CPU µs per operation on the in-memory store: the pure model's share."""
    store = memory_store()
    ledger = ledger_cls(store, lambda: NOW)
    setup, operation = next((s, o) for nm, s, o in scenarios(ledger, None) if nm == name)
    members = [f"m{i}" for i in range(n)]
    for member in members:
        setup(member)
    start = time.process_time()
    for member in members:
        operation(member)
    return (time.process_time() - start) / n * 1e6


if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
