"""The shape of the code, checked: no import circles, imports inside functions only where a heavy
library serves one path, and adapters built in the composition root alone."""

from __future__ import annotations

import ast
import collections
from pathlib import Path

from chalicelib import bootstrap
from chalicelib.bus import catalogue
from chalicelib.bus.publisher import MemoryPublisher, publish
from chalicelib.ledger.memory import MemoryLedgerStore

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"
# third-party libraries only one path needs, kept off the import path of every cold start
HEAVY = ("boto3", "botocore", "jwt", "aws_lambda_powertools", "fastjsonschema", "isodate", "ulid")
MAX_IN_FUNCTION = 20


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _trees():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, _module(path), ast.parse(path.read_text())


def _imported(node) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [f"{node.module}.{a.name}" for a in node.names] + [node.module]
    return [a.name for a in node.names]


def test_no_module_imports_itself_through_others():
    modules = {name for _, name, _ in _trees()}
    graph = collections.defaultdict(set)
    for _, name, tree in _trees():
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name] |= {m for m in _imported(node) if m in modules and m != name}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            assert state.get(target) != 1, " -> ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module, [])


def test_imports_inside_functions_are_heavy_libraries_outside_the_composition_root():
    found = []
    for _, name, tree in _trees():
        if name == "chalicelib.bootstrap":
            continue
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(function):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        found.append((name, node.lineno, _imported(node)[-1]))
    allowed = [f for f in found if f[2].startswith(HEAVY) or f[0] == "chalicelib.api"]  # api: its own routes
    assert found == allowed, [f for f in found if f not in allowed]
    assert len(found) <= MAX_IN_FUNCTION, found


def test_only_the_composition_root_builds_the_dynamodb_ledger():
    builders = [name for path, name, tree in _trees() if "DynamoLedgerStore(" in path.read_text()]
    assert builders == ["chalicelib.bootstrap"]


def test_the_composition_root_hands_out_what_a_test_puts_in():
    store, memory = MemoryLedgerStore(), MemoryPublisher()
    with bootstrap.override(ledger_store=store, publisher=memory):
        bootstrap.ledger().adjust("k1", "m1", 50, "goodwill")
        assert bootstrap.ledger_store().book("m1").posted == 50
        assert bootstrap.pipeline().ledger.store is store  # the pipeline is built over it too
        assert bootstrap.pipeline().decisions is bootstrap.decisions()  # and over decisions sharing its guards
        assert bootstrap.decisions().guards is store.guards
        event = catalogue.PointsAdjusted(id="adjusted:k1", at=bootstrap.now(), member_id="m1", brand_id=None,
                                         points=50, reason="goodwill")
        publish(event)
        assert memory.published == [event]
    assert bootstrap.ledger_store() is not store
    assert not hasattr(bootstrap.ledger_store(), "read_guards")  # the pipeline's counters are not the ledger's


def _is_store(name: str) -> bool:
    return name.endswith(".store") or name.startswith("chalicelib.store.") or name in (
        "chalicelib.store", "chalicelib.ledger.dynamo", "chalicelib.bootstrap")


def test_every_dynamodb_call_lives_in_a_store():
    """Services are plain Python over their stores: no pynamodb, no DynamoDB client, no model
    query or conditional write outside ``<area>/store.py``, ``chalicelib/store/`` and the
    ledger's DynamoDB store."""
    model_calls = {"get", "query", "scan", "count", "batch_get", "batch_write", "exists"}
    found = []
    for _, name, tree in _trees():
        if _is_store(name):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and any(m.startswith("pynamodb") for m in _imported(node)):
                found.append((name, node.lineno, "imports pynamodb"))
            if not isinstance(node, ast.Call):
                continue
            if any(isinstance(a, ast.Constant) and a.value == "dynamodb" for a in node.args):
                found.append((name, node.lineno, "a DynamoDB client"))
            func = node.func
            writes = isinstance(func, ast.Attribute) and func.attr in ("save", "update", "delete")
            if any(k.arg in ("actions", "consistent_read") or (writes and k.arg == "condition") for k in node.keywords):
                found.append((name, node.lineno, "a model write or read"))
            if isinstance(func, ast.Attribute) and func.attr in model_calls and isinstance(func.value, ast.Name) \
                    and func.value.id.endswith(("Item", "Table")):
                found.append((name, node.lineno, f"{func.value.id}.{func.attr}"))
    assert found == []


def test_import_app_loads_the_http_layer_and_handlers_not_the_areas_behind_them():
    """A cold start pays for its own path: the areas arrive through the composition root when a
    request or a message first needs them (the import-time bench measures what is left)."""
    import subprocess
    import sys

    loaded = subprocess.run([sys.executable, "-c", "import app, sys; print(' '.join(sorted(sys.modules)))"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    deferred = ("chalicelib.rules", "chalicelib.events", "chalicelib.rewards", "chalicelib.tiers",
                "chalicelib.activities", "chalicelib.analytics", "chalicelib.leaderboard.service",
                "chalicelib.ledger.service", "chalicelib.ledger.dynamo", "chalicelib.members.privacy", "ulid")
    assert [m for m in loaded if m.startswith(deferred)] == []
    assert "chalicelib.api.rewards" in loaded  # the routes themselves are all there


def test_every_job_comes_from_an_area_in_the_composition_roots_job_table():
    import subprocess
    import sys

    # a fresh interpreter: as the jobs queue's function starts (tests here register jobs of their own)
    script = "from chalicelib import bootstrap, jobs; bootstrap.jobs(); print(' '.join(jobs.registered()))"
    names = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    assert {"ledger.expire_due", "tiers.review_due", "canary.ping"} <= set(names)
    assert {name.split(".")[0] for name in names} == set(bootstrap.JOBS)
