"""The AWS meter of ``bench/cost.py``: every botocore call of every process of the local stack,
with the capacity units DynamoDB would bill for it.

Python imports ``sitecustomize`` at start-up from the first directory on ``sys.path`` that has
one; ``bench/cost.py`` starts the stack with this directory on ``PYTHONPATH`` and
``PUNCHCARD_METER_DIR`` set, so the stack, its queue pollers and every Lambda-like container
(spawned interpreters inherit the environment) load it. Without the variable it does nothing.

Each call appends one JSON line to ``<dir>/<pid>.jsonl`` (``O_APPEND``, one ``write``: lines of
concurrent threads never interleave): time, service, operation, the code that made it (the
innermost ``chalicelib`` frame), and for DynamoDB the billed units, computed from the items
themselves by DynamoDB's published rules, not from DynamoDB Local's consumed-capacity figures
(which under-report transactions):

- an item's size: attribute names plus values (strings and binaries by length, numbers about
  one byte per two significant digits plus one, 1 byte for booleans and nulls, 3 bytes plus
  1 per element for lists and maps);
- a write: 1 unit per started KB of the larger of the item before and after (2 in a
  transaction, condition checks included); a refused conditional write still costs its units;
- every index whose keys the item has: 1 write per started KB of the projected entry when it
  is added, removed or its projected attributes change, 2 when its index key moves (a delete and
  a put);
- a read: 1 unit per started 4 KB (half, eventually consistent; twice, in a transaction); a
  Query or Scan rounds the sum of the items it returns once; a GetItem that finds nothing
  still costs its minimum.

To know an item before and after a write, the meter reads it (strongly consistent) around
the call with the client's own connection; those reads are not recorded.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import threading
import time
from decimal import Decimal

DIR = os.environ.get("PUNCHCARD_METER_DIR")
KB = 1024
READ_UNIT = 4 * KB


def value_size(value: dict) -> int:
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return number_size(raw)
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    if kind == "NS":
        return sum(number_size(n) for n in raw)
    if kind == "BS":
        return sum(len(b) for b in raw)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
    raise ValueError(f"unknown attribute type {kind}")


def number_size(raw: str) -> int:
    digits = len(Decimal(raw).normalize().as_tuple().digits)
    return (digits + 1) // 2 + 1


def item_size(item: dict | None) -> int:
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return float(units) if consistent else units / 2


class Meter:
    def __init__(self, directory: str) -> None:
        self.fd = os.open(os.path.join(directory, f"{os.getpid()}.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self.schemas: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.quiet = threading.local()  # the meter's own reads
        self.overhead = 0.0  # CPU seconds the meter spent (its records and its own reads)
        self.requests = 0  # AWS requests recorded

    def record(self, **fields) -> None:
        os.write(self.fd, (json.dumps(fields, separators=(",", ":")) + "\n").encode())

    # -- tables ------------------------------------------------------------------------------

    def schema(self, call, table: str) -> dict:
        found = self.schemas.get(table)
        if found is None:
            description = call("DescribeTable", {"TableName": table})["Table"]
            keys = [k["AttributeName"] for k in description["KeySchema"]]
            indexes = []
            for index in description.get("GlobalSecondaryIndexes", []) + description.get("LocalSecondaryIndexes", []):
                projection = index["Projection"]
                indexes.append({"name": index["IndexName"],
                                "keys": [k["AttributeName"] for k in index["KeySchema"]],
                                "type": projection["ProjectionType"],
                                "include": projection.get("NonKeyAttributes", [])})
            found = self.schemas[table] = {"keys": keys, "indexes": indexes}
        return found

    def image(self, call, table: str, key: dict) -> dict | None:
        return call("GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")

    def key_of(self, call, table: str, item: dict) -> dict:
        return {name: item[name] for name in self.schema(call, table)["keys"]}

    # -- write units -------------------------------------------------------------------------

    def index_units(self, call, table: str, before: dict | None, after: dict | None) -> dict[str, int]:
        schema, out = self.schema(call, table), {}
        for index in schema["indexes"]:
            def entry(image, index=index):
                if not image or not all(k in image for k in index["keys"]):
                    return None
                if index["type"] == "ALL":
                    return image
                names = set(schema["keys"]) | set(index["keys"]) | set(index["include"])
                return {n: v for n, v in image.items() if n in names}

            old, new = entry(before), entry(after)
            units = 0
            if old is not None and new is not None:
                if any(old[k] != new[k] for k in index["keys"]):
                    units = write_units(item_size(old)) + write_units(item_size(new))
                elif old != new:
                    units = write_units(item_size(new))
            elif old is not None:
                units = write_units(item_size(old))
            elif new is not None:
                units = write_units(item_size(new))
            if units:
                out[f"{table}/{index['name']}"] = units
        return out

    def writes(self, call, op: str, params: dict, reply_ok: bool, images: list) -> tuple[float, dict, list]:
        """(table write units, index units by index, [(table, units)]) of a finished write."""
        factor = 2 if op == "TransactWriteItems" else 1
        total, by_index, per_item = 0.0, {}, []
        for table, key, before in images:
            after = self.image(call, table, key) if reply_ok else before
            units = factor * write_units(max(item_size(before), item_size(after)))
            total += units
            per_item.append([table, units])
            for name, n in self.index_units(call, table, before, after).items():
                by_index[name] = by_index.get(name, 0) + n
        return total, by_index, per_item

    def targets(self, call, op: str, params: dict) -> list[tuple[str, dict]]:
        """(table, key) of every item a write touches."""
        if op in ("PutItem",):
            return [(params["TableName"], self.key_of(call, params["TableName"], params["Item"]))]
        if op in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"])]
        if op == "TransactWriteItems":
            out = []
            for action in params["TransactItems"]:
                (body,) = action.values()
                key = body.get("Key") or self.key_of(call, body["TableName"], body["Item"])
                out.append((body["TableName"], key))
            return out
        if op == "BatchWriteItem":
            out = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        out.append((table, self.key_of(call, table, request["PutRequest"]["Item"])))
                    else:
                        out.append((table, request["DeleteRequest"]["Key"]))
            return out
        return []

    # -- read units --------------------------------------------------------------------------

    @staticmethod
    def reads(op: str, params: dict, reply: dict) -> float:
        if op == "GetItem":
            return read_units(item_size(reply.get("Item")), bool(params.get("ConsistentRead")))
        if op == "BatchGetItem":
            total = 0.0
            for table, items in reply.get("Responses", {}).items():
                consistent = bool(params["RequestItems"].get(table, {}).get("ConsistentRead"))
                total += sum(read_units(item_size(i), consistent) for i in items)
            return total
        if op in ("Query", "Scan"):
            size = sum(item_size(i) for i in reply.get("Items", []))
            return read_units(size, bool(params.get("ConsistentRead")))
        if op == "TransactGetItems":
            return sum(2 * read_units(item_size(r.get("Item")), True) for r in reply.get("Responses", []))
        return 0.0


def caller() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        at = path.rfind("/chalicelib/")
        if at >= 0 and not path.endswith(("/chalicelib/aws.py", "/store/base.py")):
            return f"{path[at + 12:-3].replace('/', '.')}:{frame.f_code.co_name}"
        frame = frame.f_back
    frame = sys._getframe(2)
    while frame is not None:  # outside the application (the stack's queue pollers)
        path = frame.f_code.co_filename
        at = path.rfind("/devstack/")
        if at >= 0:
            return f"devstack.{path[at + 10:-3]}:{frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def install(directory: str) -> None:
    from botocore.client import BaseClient

    meter = Meter(directory)
    original = BaseClient._make_api_call

    def metered(self, operation_name, api_params):
        if getattr(meter.quiet, "on", False):
            return original(self, operation_name, api_params)
        service = self.meta.service_model.service_name

        def call(op, params):
            meter.quiet.on = True
            try:
                return original(self, op, params)
            finally:
                meter.quiet.on = False

        began = time.thread_time()

        record = {"t": time.time(), "svc": service, "op": operation_name, "by": caller()}
        images = []
        if service == "dynamodb" and operation_name in WRITES:
            images = [(table, key, meter.image(call, table, key))
                      for table, key in meter.targets(call, operation_name, api_params)]
        ok, error = True, None
        spent = time.thread_time() - began
        try:
            reply = original(self, operation_name, api_params)
        except Exception as e:  # a refused condition, a cancelled transaction: billed all the same
            ok, reply, error = False, {}, e
        began = time.thread_time()
        if service == "dynamodb":
            if operation_name in WRITES:
                units, by_index, per_item = meter.writes(call, operation_name, api_params, ok, images)
                record.update(wcu=units, gsi=by_index, items=per_item)
            else:
                record["rcu"] = meter.reads(operation_name, api_params, reply)
                table = api_params.get("TableName")
                if table:
                    record["table"] = table
        elif service == "sqs" and operation_name == "ReceiveMessage":
            record["n"] = len(reply.get("Messages", []))
        elif service == "sqs" and operation_name.startswith("SendMessage"):
            bodies = [api_params.get("MessageBody", "")] + [e["MessageBody"] for e in api_params.get("Entries", [])]
            record["chunks"] = max(1, math.ceil(sum(len(b.encode()) for b in bodies) / (64 * KB)))
        elif service == "events" and operation_name == "PutEvents":
            # EventBridge bills each 64 KB chunk of each entry; each entry is then one SQS send per
            # consumer whose rule matches it (made by EventBridge, so no client here sees it)
            record["types"] = [e.get("DetailType") for e in api_params.get("Entries", [])]
            record["chunks"] = sum(max(1, math.ceil(len(e.get("Detail", "").encode()) / (64 * KB)))
                                   for e in api_params.get("Entries", []))
        if not ok:
            record["failed"] = type(error).__name__
        meter.record(**record)
        with meter.lock:
            meter.requests += 1
            meter.overhead += spent + time.thread_time() - began
        if error is not None:
            raise error
        return reply

    BaseClient._make_api_call = metered
    sys.modules["punchcard_meter"] = sys.modules[__name__]
    global _meter
    _meter = meter


_meter: Meter | None = None
AWS_LATENCY = 0.005  # seconds a Lambda waits on a DynamoDB or SQS request in the region ("single-digit ms")


@contextlib.contextmanager
def invocation(function: str):
    """One Lambda invocation in this container (``devstack.containers`` wraps each in this when
    the meter is loaded): its wall time here, and the duration it would bill in AWS, estimated
    as its CPU time (less the meter's own) plus AWS_LATENCY per AWS request it made, since
    DynamoDB Local answers far slower than DynamoDB."""
    meter = _meter
    wall, cpu, overhead, requests = time.monotonic(), time.process_time(), meter.overhead, meter.requests
    try:
        yield
    finally:
        own_cpu = time.process_time() - cpu - (meter.overhead - overhead)
        made = meter.requests - requests
        meter.record(t=time.time(), svc="lambda", op="Invoke", by=function, wall=round(time.monotonic() - wall, 4),
                     seconds=round(max(0.0, own_cpu) + AWS_LATENCY * made, 4), requests=made)


if DIR:
    install(DIR)
