"""The HTTP contract: health, the OpenAPI document, and the error shape for every failure."""

import json

import pytest
from chalice import Blueprint, Chalice
from chalice.test import Client

from chalicelib import errors
from chalicelib.api import http
from chalicelib.contract import OPENAPI_PATH

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def client():
    import app

    with Client(app.app) as test_client:
        yield test_client


def error_of(response):
    body = json.loads(response.body)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_health_answers_ok(client):
    response = client.http.get("/health")

    assert response.status_code == 200
    assert json.loads(response.body) == {"status": "ok"}


def test_openapi_is_served_and_is_a_valid_3_1_document(client):
    from openapi_spec_validator import validate

    response = client.http.get("/openapi.json")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document = json.loads(response.body)
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_in_the_spec_and_every_spec_path_is_a_route():
    import app

    routes = {(path, method.lower()) for path, methods in app.app.routes.items() for method in methods}
    spec = json.loads(OPENAPI_PATH.read_text())
    documented = {(path, method) for path, item in spec["paths"].items() for method in item
                  if method in HTTP_METHODS}

    assert routes - documented == set(), "routes missing from openapi.json"
    assert documented - routes == set(), "openapi.json documents routes that do not exist"


def test_every_documented_operation_has_an_id_and_json_error_responses():
    spec = json.loads(OPENAPI_PATH.read_text())
    ids = [op["operationId"] for item in spec["paths"].values() for m, op in item.items() if m in HTTP_METHODS]
    assert len(ids) == len(set(ids))


def test_wrong_method_answers_405_in_the_error_shape(client):
    response = client.http.post("/health", body=b"{}", headers={"Content-Type": "application/json"})

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_wrong_content_type_answers_415_in_the_error_shape(client):
    response = client.http.get("/health", headers={"Content-Type": "text/plain"})

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


# A minimal app built the way app.py builds the real one, with routes that exercise what the
# real API will (JSON bodies, typed errors, crashes) before those routes exist.
class InsufficientPoints(errors.Conflict):
    code = "insufficient_points"


probe = Blueprint(__name__)


@http.route(probe, "/echo", methods=("POST",))
def echo():
    return {"received": http.json_body(probe.current_request)}


@http.route(probe, "/big", methods=("POST",), max_body_bytes=64)
def big():
    return {"ok": True}


@http.route(probe, "/domain-error")
def domain_error():
    raise InsufficientPoints("Not enough points.", details={"available": 3, "required": 10})


@http.route(probe, "/crash")
def crash():
    raise KeyError("secret internal detail")


@pytest.fixture(scope="module")
def probe_client():
    from chalicelib import observability

    probe_app = Chalice(app_name="probe")
    probe_app.register_middleware(http.guard_requests, "http")
    observability.install(probe_app)
    probe_app.register_blueprint(probe)
    with Client(probe_app) as test_client:
        yield test_client


JSON_HEADERS = {"Content-Type": "application/json"}


def test_a_json_object_body_is_parsed(probe_client):
    response = probe_client.http.post("/echo", body=b'{"a": 1}', headers=JSON_HEADERS)

    assert response.status_code == 200
    assert json.loads(response.body) == {"received": {"a": 1}}


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"{not json", 400, "malformed_json"),
    (b'{"a": 1', 400, "malformed_json"),
    (b"\xff\xfe", 400, "malformed_json"),
    (b"", 400, "body_required"),
    (b"[1, 2]", 422, "validation_failed"),
    (b'"text"', 422, "validation_failed"),
])
def test_bad_bodies_answer_4xx_in_the_error_shape(probe_client, body, status, code):
    response = probe_client.http.post("/echo", body=body, headers=JSON_HEADERS)

    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_oversize_body_answers_413_with_the_limit(probe_client):
    response = probe_client.http.post("/big", body=b'{"x": "' + b"a" * 100 + b'"}', headers=JSON_HEADERS)

    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large"
    assert error["details"]["limit_bytes"] == 64


def test_the_default_body_limit_comes_from_settings_and_routes_may_differ(monkeypatch):
    # (chalice.test.Client re-applies the stage's variables on each request, so this is
    # checked on the lookup itself.)
    monkeypatch.setenv("PUNCHCARD_MAX_BODY_BYTES", "10")

    assert http.body_limit("POST", "/echo") == 10
    assert http.body_limit("POST", "/big") == 64


def test_a_domain_error_maps_to_its_status_and_code(probe_client):
    response = probe_client.http.get("/domain-error")

    assert response.status_code == 409
    assert error_of(response) == {"code": "insufficient_points", "message": "Not enough points.",
                                  "details": {"available": 3, "required": 10}}


def test_an_unexpected_exception_is_a_500_that_leaks_nothing(probe_client):
    response = probe_client.http.get("/crash")

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "secret" not in response.body.decode()


def test_a_failing_middleware_still_answers_in_the_error_shape():
    app = Chalice(app_name="broken")
    app.register_middleware(http.guard_requests, "http")

    @app.middleware("http")
    def explode(event, get_response):
        raise RuntimeError("middleware bug")

    @app.route("/x")
    def x():
        return {}

    with Client(app) as test_client:
        response = test_client.http.get("/x")

    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"


def test_chalice_view_errors_are_reshaped():
    from chalice import NotFoundError

    app = Chalice(app_name="chalice-errors")
    app.register_middleware(http.guard_requests, "http")

    @app.route("/x")
    def x():
        raise NotFoundError("no x")

    with Client(app) as test_client:
        response = test_client.http.get("/x")

    assert response.status_code == 404
    assert error_of(response) == {"code": "not_found", "message": "no x", "details": {}}


def test_every_operation_and_request_body_has_an_example():
    spec = json.loads(OPENAPI_PATH.read_text())
    schemas = spec["components"]["schemas"]

    def has_example(content):
        media = content.get("application/json", {})
        if media.get("examples") or media.get("example"):
            return True
        ref = media.get("schema", {}).get("$ref", "")
        return bool(ref) and bool(schemas[ref.rsplit("/", 1)[1]].get("examples"))

    missing = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            if "requestBody" in op and not has_example(op["requestBody"]["content"]):
                missing.append(f"{method} {path} request")
            success = [r for code, r in op["responses"].items() if code.startswith("2") and "content" in r]
            if path != "/openapi.json" and success and not any(has_example(r["content"]) for r in success):
                missing.append(f"{method} {path} response")
    assert missing == []


def test_every_schema_compiles_and_accepts_its_own_examples():
    """fastjsonschema rewrites patterns (``$`` becomes ``\\Z``): a pattern it cannot compile
    would be a 500 on the first request that reaches it."""
    from chalicelib.api import validation

    schemas = json.loads(OPENAPI_PATH.read_text())["components"]["schemas"]
    for name, schema in schemas.items():
        for example in schema.get("examples", []):
            assert validation.validate(name, example) == example, name
        validation._validator(name)


def test_the_web_apps_and_analytics_know_exactly_the_apis_channels():
    import re
    from pathlib import Path

    from chalicelib import contract
    from chalicelib.analytics import model

    spec = json.loads(OPENAPI_PATH.read_text())["components"]["schemas"]
    channels = spec["ActivityInput"]["properties"]["channel"]["enum"]
    assert spec["EventCreate"]["properties"]["channel"]["enum"] == channels
    lib = (Path(__file__).resolve().parents[2] / "web" / "lib.js").read_text()
    listed = re.search(r"export const CHANNELS = \[(.*?)\n\];", lib, re.S).group(1)
    assert re.findall(r'\["([a-z_]+)", "', listed) == channels
    assert list(contract.channels()) == channels
    assert model.channel_of({"channel": channels[0]}) == channels[0]
    assert model.channel_of({"channel": "myspace"}) == model.channel_of({}) == "other"


def test_the_documented_id_is_the_id_the_code_checks():
    from chalicelib import contract, ids

    assert contract.schemas()["Id"]["pattern"] == f"^{ids.ID}$"
    assert ids.is_id(ids.new_id())
    assert ids.is_id(ids.derived_id("a", "b"))
    assert "".join(c for c in map(chr, range(128)) if ids.is_id(c * 26)) == ids.CROCKFORD
    for bad in ("", "0" * 25, "0" * 27, "I" * 26, "L" * 26, "O" * 26, "U" * 26, "a" * 26, None, 26):
        assert not ids.is_id(bad), bad
