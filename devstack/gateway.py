"""The local API Gateway and static site: one HTTP server on the API port.

API paths go to Chalice's own API Gateway emulation (``chalice.local.LocalGateway``: same
event shape, authorizers and middleware as in the cloud); everything else is served from
``web/`` as S3 + CloudFront would. Requests to the app are serialised: a Lambda container
runs one request at a time, and Chalice keeps the current request on the app object.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from chalicelib import errors

log = logging.getLogger("devstack.http")

API_GATEWAY_MAX_BODY = 10 * 1024 * 1024  # API Gateway refuses larger payloads itself


def _error(error: errors.PunchcardError) -> tuple[int, dict[str, str], bytes]:
    return errors.http_status(error), {"Content-Type": "application/json"}, json.dumps(error.to_body()).encode()


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 resets connections under a burst of clients


class Gateway:
    def __init__(self, chalice_app, web_dir: Path, stage: str = "dev") -> None:
        from chalice.config import Config
        from chalice.local import LocalGateway, RouteMatcher

        self.app = chalice_app
        self.web_dir = web_dir.resolve()
        self.local = LocalGateway(chalice_app, Config.create(chalice_stage=stage, lambda_timeout=30,
                                                             lambda_memory_size=512))
        self.matcher = RouteMatcher(list(chalice_app.routes))
        # /v1 is the API's namespace even before a route exists under it, so unknown /v1 paths
        # answer route_not_found instead of falling through to the web app.
        roots = {"/" + path.strip("/").split("/")[0] for path in chalice_app.routes}
        self.api_roots = sorted(roots | {"/v1"})
        self._lock = threading.Lock()

    def is_api(self, path: str) -> bool:
        return any(path == root or path.startswith(root + "/") for root in self.api_roots)

    def api(self, method: str, target: str, headers: dict[str, str], body: bytes | None):
        from chalice.local import LocalGatewayException

        from chalicelib.identity.principal import Unauthenticated

        path = urlsplit(target).path
        try:
            self.matcher.match_route(target)
        except ValueError:
            return _error(errors.RouteNotFound(details={"path": path}))
        try:
            with self._lock:
                reply = self.local.handle_request(method=method, path=target, headers=headers, body=body)
        except Unauthenticated:  # API Gateway answers 401 when the authorizer raises this
            return _error(errors.Unauthorized())
        except LocalGatewayException as e:  # no Authorization header (401) or a Deny policy (403)
            return _error(errors.Unauthorized() if e.CODE == 401 else errors.Forbidden())
        payload = reply.get("body") or b""
        if reply.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        out_headers = dict(reply.get("headers") or {})
        for name, values in (reply.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        return reply["statusCode"], out_headers, payload

    def static(self, target: str):
        path = unquote(urlsplit(target).path)
        relative = path.lstrip("/") or "index.html"
        candidate = (self.web_dir / relative).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if not candidate.is_relative_to(self.web_dir) or not candidate.is_file():
            if "." not in Path(relative).name:  # an app route such as /rewards: the app decides
                candidate = self.web_dir / "index.html"
            if not candidate.is_file():
                return _error(errors.NotFound(details={"path": path}))
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        return 200, {"Content-Type": content_type, "Cache-Control": "no-cache"}, candidate.read_bytes()

    def handler_class(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "punchcard-local"

            def log_message(self, fmt, *args):  # route the access log through logging
                log.debug("%s %s", self.address_string(), fmt % args)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > API_GATEWAY_MAX_BODY:
                    self.close_connection = True
                    self._send(*_error(errors.PayloadTooLarge(details={"limit_bytes": API_GATEWAY_MAX_BODY,
                                                                       "size_bytes": length})))
                    return
                body = self.rfile.read(length) if length else None
                path = urlsplit(self.path).path
                if gateway.is_api(path):
                    reply = gateway.api(self.command, self.path, dict(self.headers), body)
                elif self.command in ("GET", "HEAD"):
                    reply = gateway.static(self.path)
                else:
                    reply = _error(errors.RouteNotFound(details={"path": path}))
                self._send(*reply)

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _safe(self) -> None:
                try:
                    self._handle()
                except Exception:
                    log.exception("local gateway failed on %s %s", self.command, self.path)
                    self._send(*_error(errors.PunchcardError()))

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
