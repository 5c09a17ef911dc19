"""The local API Gateway and static site: one HTTP server on the API port.

API paths go to Chalice's own API Gateway emulation (``chalice.local.LocalGateway``: same
event shape, authorizers and middleware as in the cloud); everything else is served from
``web/`` as S3 + CloudFront would (nothing outside it). Every response carries the cloud's
security headers (:mod:`devstack.security_headers`), and what API Gateway refuses itself
(oversized headers, a bad Content-Length) is refused here in the API's error shape. Requests
to the app run in the API's containers (:mod:`devstack.containers`), several at once, each
container one at a time as in Lambda (Chalice keeps the current request on the app object).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chalicelib import errors
from devstack import containers
from devstack.security_headers import HEADERS as SECURITY_HEADERS

log = logging.getLogger("devstack.http")

API_GATEWAY_MAX_BODY = 10 * 1024 * 1024  # API Gateway refuses larger payloads itself
API_GATEWAY_MAX_HEADERS = 10 * 1024  # its limit on the request line and headers together
CLIENT_TIMEOUT_SECONDS = 30  # a connection that sends nothing for this long is dropped
_OWN_HEADERS = {"content-length", "connection", *(name.lower() for name in SECURITY_HEADERS)}


def error_reply(error: errors.PunchcardError) -> tuple[int, dict[str, str], bytes]:
    """A refusal in the API's error shape: (status, headers, body)."""
    return errors.http_status(error), {"Content-Type": "application/json"}, json.dumps(error.to_body()).encode()


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 resets connections under a burst of clients


class Gateway:
    def __init__(self, chalice_app, web_dir: Path, api_containers: containers.Pool) -> None:
        from chalice.local import RouteMatcher

        self.app = chalice_app
        self.web_dir = web_dir.resolve()
        self.containers = api_containers
        self.matcher = RouteMatcher(list(chalice_app.routes))
        # /v1 is the API's namespace even before a route exists under it, so unknown /v1 paths
        # answer route_not_found instead of falling through to the web app.
        roots = {"/" + path.strip("/").split("/")[0] for path in chalice_app.routes}
        self.api_roots = sorted(roots | {"/v1"})

    def is_api(self, path: str) -> bool:
        return any(path == root or path.startswith(root + "/") for root in self.api_roots)

    def api(self, method: str, target: str, headers: dict[str, str], body: bytes | None):
        path = urlsplit(target).path
        try:
            self.matcher.match_route(target)
        except ValueError:
            return error_reply(errors.RouteNotFound(details={"path": path}))
        return self.containers.call(containers.http, method, target, headers, body)

    def static(self, target: str):
        """A file of ``web/`` as CloudFront serves the bucket; an app route gets the app."""
        path = unquote(urlsplit(target).path)
        relative = path.lstrip("/") or "index.html"
        try:
            candidate = (self.web_dir / relative).resolve()
        except (OSError, ValueError):  # a NUL byte, a loop of links
            return error_reply(errors.NotFound(details={"path": path}))
        # Resolved first, then checked: "..", encoded slashes and links that leave web/ all end
        # up outside it, and nothing outside is ever served, not even the app's index.
        if not candidate.is_relative_to(self.web_dir):
            return error_reply(errors.NotFound(details={"path": path}))
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if not candidate.is_file():
            if "." in Path(relative).name:  # a missing file, not an app route such as /rewards
                return error_reply(errors.NotFound(details={"path": path}))
            candidate = self.web_dir / "index.html"
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        return 200, {"Content-Type": content_type, "Cache-Control": "no-cache"}, candidate.read_bytes()

    def handler_class(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "punchcard-local"
            # TCP_NODELAY: the headers and the body go out as two writes, and with Nagle the
            # body waits for the client's delayed ACK of the headers (40 ms on every reply).
            disable_nagle_algorithm = True
            timeout = CLIENT_TIMEOUT_SECONDS

            def log_message(self, fmt, *args):  # route the access log through logging
                log.debug("%s %s", self.address_string(), fmt % args)

            def _handle(self) -> None:
                refused = self._refusal()
                if refused is not None:
                    self.close_connection = True  # the rest of the stream cannot be trusted
                    self._send(*error_reply(refused))
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if length and len(body) < length:  # the client went away mid-body
                    self.close_connection = True
                    return
                path = urlsplit(self.path).path
                if gateway.is_api(path):
                    reply = gateway.api(self.command, self.path, dict(self.headers), body)
                elif self.command in ("GET", "HEAD"):
                    reply = gateway.static(self.path)
                else:
                    reply = error_reply(errors.RouteNotFound(details={"path": path}))
                self._send(*reply)

            def _refusal(self) -> errors.PunchcardError | None:
                """What API Gateway refuses before the app sees a request (its limits, bad framing)."""
                line = len(self.requestline)
                if line > API_GATEWAY_MAX_HEADERS:
                    return errors.UriTooLong(details={"limit_bytes": API_GATEWAY_MAX_HEADERS})
                size = line + sum(len(name) + len(value) for name, value in self.headers.items())
                if size > API_GATEWAY_MAX_HEADERS:
                    return errors.RequestHeadersTooLarge(details={"limit_bytes": API_GATEWAY_MAX_HEADERS})
                lengths = self.headers.get_all("Content-Length") or []
                if len(lengths) > 1 or (lengths and not lengths[0].strip().isdigit()):
                    return errors.BadRequest("Content-Length must be one non-negative integer.",
                                             code="invalid_content_length", details={"content_length": lengths})
                length = int(lengths[0]) if lengths else 0
                if length > API_GATEWAY_MAX_BODY:
                    return errors.PayloadTooLarge(details={"limit_bytes": API_GATEWAY_MAX_BODY, "size_bytes": length})
                return None

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # http.server's own refusals (request line or a header over 64 KiB, over 100
                # headers, a garbled request line) in the API's error shape, not as HTML.
                error = {414: errors.UriTooLong, 431: errors.RequestHeadersTooLarge}.get(code)
                if error is not None:
                    refused = error()
                elif 400 <= code < 500:
                    refused = errors.BadRequest(message, code="malformed_request")
                else:
                    refused = errors.PunchcardError()
                self.close_connection = True
                self._send(*error_reply(refused))

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in _OWN_HEADERS:
                        self.send_header(name, value)
                for name, value in SECURITY_HEADERS.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _safe(self) -> None:
                try:
                    self._handle()
                except (TimeoutError, ConnectionError):  # a client that stalls or drops mid-request
                    self.close_connection = True
                except Exception:
                    log.exception("local gateway failed on %s %s", self.command, self.path)
                    self._send(*error_reply(errors.PunchcardError()))

            def __getattr__(self, name: str):
                # Every method, known or not (TRACE, QUERY...), goes through the gateway, which
                # answers 405 in the error shape like API Gateway, not http.server's HTML 501.
                if name.startswith("do_"):
                    return self._safe
                raise AttributeError(name)

        return Handler

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        server = _Server((host, port), self.handler_class())
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        return server
