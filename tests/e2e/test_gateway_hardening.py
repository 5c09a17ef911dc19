"""The local gateway at its edges: only web/ is served, every response carries the cloud's
security headers, and malformed framing (Content-Length, oversized headers) answers a 4xx in
the documented error shape, over raw sockets so nothing normalises the request first."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from devstack.security_headers import HEADERS
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.slow


def raw(stack, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; returns the status, headers and body of the reply."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def get(stack, target: str) -> tuple[int, dict[str, str], bytes]:
    return raw(stack, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())


def error_code(status_headers_body) -> str:
    _, headers, body = status_headers_body
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}
    return error["code"]


@pytest.mark.parametrize("target", [
    "/..%2fREADME.md",
    "/..%2f.git%2fconfig",
    "/vendor/..%2f..%2fapp.py",
    "/%2e%2e/%2e%2e/README.md",
    "/../README.md",
    "/..%5cREADME.md",
    "/%2fetc%2fpasswd",
    "/index.html%00.js",
])
def test_nothing_outside_web_is_served(stack, target):
    reply = get(stack, target)

    if reply[0] == 200:  # a path inside web/ with no file: the app's own route, never a file outside
        assert reply[2] == (ROOT / "web" / "index.html").read_bytes()
    else:
        assert reply[0] == 404, reply
        assert error_code(reply) == "not_found"


def test_the_state_directory_is_not_reachable_by_traversal(stack):
    up = "..%2f" * (len(ROOT.parts) + 2)
    target = "/" + up + "%2f".join(stack.credentials_path.parts[1:])

    status, _, body = get(stack, target)

    assert status == 404
    assert stack.credentials["admin_key"].encode() not in body


def test_files_in_web_and_app_routes_are_still_served(stack):
    assert get(stack, "/app.js")[0] == 200
    assert get(stack, "/vendor/chart.umd.min.js")[0] == 200
    status, headers, body = get(stack, "/rewards")  # an app route: the app decides
    assert (status, headers["content-type"]) == (200, "text/html")
    assert b"Punchcard" in body


@pytest.mark.parametrize("path", ["/", "/console.html", "/app.js", "/missing.js", "/health", "/openapi.json",
                                  "/v1/me", "/v1/no-such-thing"])
def test_every_response_carries_the_clouds_security_headers(stack, path):
    response = requests.get(stack.credentials["api"] + path, timeout=10)

    assert {name: response.headers.get(name) for name in HEADERS} == HEADERS


@pytest.mark.parametrize("length", [b"-5", b"abc", b"1e3", b"5, 7", b" "])
def test_a_bad_content_length_is_a_400_in_the_error_shape(stack, length):
    request = b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + \
        length + b"\r\n\r\n{}"

    reply = raw(stack, request)

    assert reply[0] == 400, reply
    assert error_code(reply) == "invalid_content_length"
    assert {name.lower(): value for name, value in HEADERS.items()}.items() <= reply[1].items()


@pytest.mark.parametrize("headers", [
    b"X-Big: " + b"a" * 11_000 + b"\r\n",  # over API Gateway's 10 KB of headers
    b"X-Huge: " + b"a" * 70_000 + b"\r\n",  # over http.server's 64 KiB line
    b"".join(b"X-H%d: v\r\n" % n for n in range(120)),  # over http.server's 100 headers
], ids=["over-10-KB", "line-over-64-KiB", "over-100-headers"])
def test_oversized_headers_are_a_431_in_the_error_shape(stack, headers):
    reply = raw(stack, b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")

    assert reply[0] == 431, reply[:2]
    assert error_code(reply) == "request_headers_too_large"


@pytest.mark.parametrize("size", [11_000, 70_000])  # over API Gateway's 10 KB; over http.server's 64 KiB
def test_an_overlong_request_line_is_a_414_in_the_error_shape(stack, size):
    reply = get(stack, "/health?q=" + "a" * size)

    assert reply[0] == 414, reply[:2]
    assert error_code(reply) == "uri_too_long"


def test_the_csp_lets_both_apps_run_and_blocks_inline_script(stack, page):
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    api = stack.credentials["api"]

    member = stack.credentials["member"]
    page.goto(api + "/")
    page.get_by_label("E-mail").fill(member["email"])
    page.get_by_label("Password").fill(member["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("available").wait_for()
    page.goto(api + "/console.html")
    page.get_by_label("Brand API key").fill(stack.credentials["brand_key"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_function("() => window.Chart && document.querySelector('canvas')")
    assert violations == []

    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.injected = true'; document.body.append(s); }""")
    assert page.evaluate("() => window.injected") is None
    assert violations, "an inline script ran: the CSP is not enforced"


def test_the_stack_never_logs_a_secret_outside_the_banner(stack):
    from tests.e2e.helpers import call, sign_up_and_log_in

    member = sign_up_and_log_in(stack)
    call(stack, "GET", "/v1/me", member["id_token"])
    call(stack, "POST", "/v1/auth/login", json={"email": member["email"], "password": "wrong-password-1"})
    call(stack, "GET", "/v1/brands", stack.credentials["admin_key"])
    call(stack, "GET", "/v1/members", stack.credentials["brand_key"] + "x")
    log = (stack.state_dir.parent / f"{stack.state_dir.name}-stack.log").read_text()
    banner_start, banner_end = log.index("Punchcard is running"), log.index("Ctrl-C stops everything")
    outside = log[:banner_start] + log[banner_end:]

    for secret in (stack.credentials["admin_key"], stack.credentials["brand_key"], member["password"],
                   member["id_token"], stack.credentials["member"]["password"]):
        assert secret not in outside
