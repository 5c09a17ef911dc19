"""Settings come from the environment at call time; stages name every resource."""

import json
from pathlib import Path

import pytest

from chalicelib import config, resources
from chalicelib.store.tables import MODELS

ROOT = Path(__file__).resolve().parents[2]


def test_names_follow_the_environment_at_call_time(monkeypatch):
    monkeypatch.setenv("PUNCHCARD_PREFIX", "acme-prod")
    monkeypatch.delenv("PUNCHCARD_TABLE_SYSTEM", raising=False)
    assert config.table_name("system") == "acme-prod-system"

    monkeypatch.setenv("PUNCHCARD_TABLE_SYSTEM", "explicit-system")
    assert config.table_name("system") == "explicit-system"


def test_model_table_name_is_resolved_when_used_not_when_imported(monkeypatch):
    model = MODELS[0]
    monkeypatch.setenv(f"PUNCHCARD_TABLE_{model.logical_name().upper()}", "first")
    assert model.Meta.table_name == "first"
    monkeypatch.setenv(f"PUNCHCARD_TABLE_{model.logical_name().upper()}", "second")
    assert model.Meta.table_name == "second"


def test_queue_and_dlq_names_are_distinct(monkeypatch):
    monkeypatch.setenv("PUNCHCARD_PREFIX", "t")
    for spec in resources.QUEUES:
        variable = f"PUNCHCARD_QUEUE_{spec.logical_name.upper().replace('-', '_')}"
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"{variable}_DLQ", raising=False)
        assert spec.name == f"t-{spec.logical_name}"
        assert spec.dlq_name == f"t-{spec.logical_name}-dlq"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_chalice_stage_names_every_table_queue_and_bucket(stage):
    chalice_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    variables = {**chalice_config["environment_variables"],
                 **chalice_config["stages"][stage]["environment_variables"]}
    expected = [f"PUNCHCARD_TABLE_{m.logical_name().upper()}" for m in MODELS]
    for spec in resources.QUEUES:
        expected += [f"PUNCHCARD_QUEUE_{spec.logical_name.upper().replace('-', '_')}",
                     f"PUNCHCARD_QUEUE_{spec.dlq_logical_name.upper().replace('-', '_')}"]
    expected += [f"PUNCHCARD_BUCKET_{b.logical_name.upper()}" for b in resources.BUCKETS]
    expected.append(f"PUNCHCARD_BUS_{resources.DOMAIN_BUS.logical_name.upper()}")
    missing = [name for name in expected if name not in variables]
    assert not missing
    prefix = variables["PUNCHCARD_PREFIX"]
    assert all(variables[name].startswith(prefix) for name in expected)
    for key in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"):
        assert variables.get(key)


def test_stages_do_not_share_resource_names():
    chalice_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    dev = chalice_config["stages"]["dev"]["environment_variables"]
    prod = chalice_config["stages"]["prod"]["environment_variables"]
    kinds = ("PUNCHCARD_TABLE_", "PUNCHCARD_QUEUE_", "PUNCHCARD_BUCKET_", "PUNCHCARD_BUS_")
    names = [k for k in dev if k.startswith(kinds)]
    assert names
    assert all(dev[k] != prod[k] for k in names)


@pytest.mark.parametrize(("task_root", "disabled", "expected"), [
    ("/var/task", None, True),
    ("/var/task", "true", False),
    (None, None, False),  # outside Lambda there is no X-Ray daemon to talk to
])
def test_tracing_is_on_only_in_lambda_and_can_be_switched_off(monkeypatch, task_root, disabled, expected):
    for name, value in (("LAMBDA_TASK_ROOT", task_root), ("POWERTOOLS_TRACE_DISABLED", disabled)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)

    assert config.tracing_enabled() is expected


def test_no_tracer_is_built_when_tracing_is_off(monkeypatch):
    from chalicelib import observability

    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)

    assert observability.tracer() is None
