"""Infra tests: the example tenant (and a second one) synthesized once per session, offline.

Needs requirements-infra.txt (``make test`` installs it, and sets the packaging to read the
wheelhouse only)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from infra.settings import TENANTS


def example_settings() -> dict:
    return json.loads((TENANTS / "example.json").read_text())


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> dict[str, Path]:
    """{tenant id: its template file}, for the example tenant and a second one, ``acme``."""
    from infra.main import synth_tenant
    from infra.settings import parse

    second = copy.deepcopy(example_settings())
    second.update({"tenant": "acme", "region": "us-east-2", "environment": "staging",
                   "mail": {"sender": "points@acme.test", "domain": "acme.test", "cognito_via_ses": True}})
    base = tmp_path_factory.mktemp("cdk")
    return {data["tenant"]: synth_tenant(parse(data), base / data["tenant"]) / "prod.template.json"
            for data in (example_settings(), second)}


@pytest.fixture(scope="session")
def template(synthesized) -> dict:
    return json.loads(synthesized["example"].read_text())


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}
