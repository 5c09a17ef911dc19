"""Property-based API fuzzing from the served OpenAPI document (schemathesis).

Every operation, with the credential its route serves (admin key, brand key or member
token), gets generated requests — valid and invalid. The checks: no 5xx ever, and every
response (status, content type, headers, body) conforms to the document.
EXAMPLES_PER_OPERATION requests are generated per operation; the whole run is recorded in
docs/api.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.e2e.conftest import ROOT
from tests.e2e.helpers import sign_up_and_log_in

# One test runs every operation's examples (about 5,800 requests): on a slow 2-core machine that
# is 8 minutes, past the suite's 300 s per test, and the timer's signal then lands wherever the
# run happens to be. Its own budget, well inside CI's.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

EXAMPLES_PER_OPERATION = 25
# CI replays the same examples every run (no flaky failures); PUNCHCARD_FUZZ_RANDOM=1 explores anew.
DERANDOMIZE = os.environ.get("PUNCHCARD_FUZZ_RANDOM") != "1"

_ROLES = """
import json, app
print(json.dumps({f"{method} {path}": list(getattr(entry.view_function, "__wrapped_roles__", ()))
                  for path, methods in app.app.routes.items() for method, entry in methods.items()}))
"""


@pytest.fixture(scope="module")
def api_schema(stack):
    roles = json.loads(subprocess.run([sys.executable, "-c", _ROLES], cwd=ROOT, capture_output=True, text=True,
                                      check=True).stdout)
    member = sign_up_and_log_in(stack)
    tokens = {"admin": stack.credentials["admin_key"], "brand": stack.credentials["brand_key"],
              "member": member["id_token"]}
    schema = schemathesis.openapi.from_url(stack.credentials["api"] + "/openapi.json")
    schema.config.base_url = stack.credentials["api"]
    schema.tokens_by_operation = {
        operation: tokens[next(r for r in ("member", "brand", "admin") if r in allowed)]
        for operation, allowed in roles.items() if allowed}
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_every_operation_conforms_and_never_fails(case, api_schema):
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    token = api_schema.tokens_by_operation.get(operation)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    EXERCISED[operation] += 1
    # A cursor is opaque: no schema can say which strings the API issued, so a generated one
    # is rightly refused (400 invalid_cursor) though "schema-valid". Activities are checked
    # beyond their schema too (timezones that exist, `between` bounds in order, values that
    # suit their operator): a schema-valid one may be a 422, but then it must name the field.
    # Every other check applies.
    # Every body is also held to the API's JSON rules, which free-form parts of a schema (event
    # attributes) cannot state: numbers within ±(2^53 - 1), depth, storable text. A generated
    # body that breaks one must be refused: with exactly that code once the body is read (a
    # route may refuse earlier: a missing member, a missing Idempotency-Key).
    semantic = operation in SEMANTICALLY_CHECKED
    strict = _strict_json_refusal(case.body)
    excluded = [positive_data_acceptance] if (case.query or {}).get("cursor") or semantic or strict else []
    response = case.call(headers=headers)
    if response.status_code == 414:  # a request line past the gateway's limit: refused before the API reads it
        assert response.json()["error"]["code"] == "uri_too_long", response.text
        excluded = [*excluded, negative_data_rejection]
    case.validate_response(response, excluded_checks=excluded)
    if semantic and response.status_code == 422:
        assert "pointer" in response.json()["error"]["details"], response.text
    if strict:
        assert response.status_code >= 400, response.text
        body_read = response.status_code in (400, 422) and response.json()["error"]["code"] not in EARLY_400
        assert not body_read or response.json()["error"]["code"] == strict, response.text


def _strict_json_refusal(body) -> str | None:
    """The code the API's JSON decoder refuses ``body`` with, or None."""
    from chalicelib.api import strict_json

    if not isinstance(body, (dict, list)):
        return None
    try:
        strict_json.loads(json.dumps(body))
    except strict_json.Refused as e:
        return e.code
    return None


SEMANTICALLY_CHECKED = {"POST /v1/activities", "PUT /v1/activities/{activity_id}", "POST /v1/activities/simulate",
                        "POST /v1/activities/templates/{template_id}",  # parameters depend on the template
                        "POST /v1/events",  # occurred_at must not be in the future
                        "POST /v1/rewards", "PUT /v1/rewards/{reward_id}",  # valid_until after valid_from
                        "PUT /v1/tiers"}  # thresholds rise from 0


EARLY_400 = {"idempotency_key_required", "unknown_parameter", "invalid_cursor"}  # refused before the body

EXERCISED: Counter[str] = Counter()


def test_every_documented_operation_was_exercised(stack, capsys):
    import requests

    spec = requests.get(stack.credentials["api"] + "/openapi.json", timeout=10).json()
    documented = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}

    # schemathesis does not fuzz the URL it loaded the document from
    assert documented - {"GET /openapi.json"} == set(EXERCISED)
    assert all(count >= 1 for count in EXERCISED.values())
    with capsys.disabled():
        print(f"\nschemathesis: {sum(EXERCISED.values())} generated requests over {len(EXERCISED)} operations: "
              + ", ".join(f"{op} {n}" for op, n in sorted(EXERCISED.items())))
