"""Lambda-like containers: worker processes that each import the app and run one invocation at a time.

A function (the API, or one queue's handler) gets a pool of up to ``concurrency`` containers,
started on first need (a cold start: a fresh interpreter importing ``app``) and kept warm. As
in Lambda, a container runs one request or batch at a time, and containers share no memory:
each has its own module state, boto3 clients and caches, so the races Lambda meets between
concurrent containers happen here too. The processes run on every core (no shared GIL).
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_gateway = None  # per container: Chalice's API Gateway emulation over this container's app
_handlers: dict[str, Any] = {}  # per container: the app's event handlers by name


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _boot(niceness: int = 0) -> None:
    if niceness:
        os.nice(niceness)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the stack, which stops us
    # A killed stack takes its containers with it. Not PR_SET_PDEATHSIG: that fires when the
    # *thread* that spawned us ends, and containers are spawned from short-lived request threads.
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    import app  # noqa: F401  (the cold start happens here, once per container)


class Pool:
    """The containers of one function."""

    def __init__(self, name: str, concurrency: int, niceness: int = 0) -> None:
        """``niceness``: the containers' CPU priority below the stack's (Lambda runs a queue's
        consumers on other machines than the API; on one laptop they share its cores, and a
        positive niceness lets the API answer first while the drain takes the rest)."""
        self.name, self.concurrency = name, concurrency
        self._executor = ProcessPoolExecutor(max_workers=concurrency, initializer=_boot, initargs=(niceness,),
                                             mp_context=multiprocessing.get_context("spawn"))

    def call(self, fn, *args) -> Any:
        if "punchcard_meter" in sys.modules:  # bench/cost.py's meter: the container records each invocation
            return self._executor.submit(_metered, self.name, fn, *args).result()
        return self._executor.submit(fn, *args).result()

    def pids(self) -> set[int]:
        return set(getattr(self._executor, "_processes", None) or {})

    def stop(self) -> None:
        processes = list((getattr(self._executor, "_processes", None) or {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(2)
            if process.is_alive():
                process.kill()


def _metered(function: str, fn, *args) -> Any:
    with sys.modules["punchcard_meter"].invocation(function):
        return fn(*args)


def http(method: str, target: str, headers: dict[str, str], body: bytes | None) -> tuple[int, dict[str, str], bytes]:
    """One API request in this container, as API Gateway would hand it to the API's Lambda."""
    global _gateway
    from chalice.local import LocalGatewayException

    from chalicelib import errors
    from chalicelib.identity.principal import Unauthenticated
    from devstack.gateway import error_reply

    if _gateway is None:
        from chalice.config import Config
        from chalice.local import LocalGateway

        import app

        _gateway = LocalGateway(app.app, Config.create(chalice_stage="dev", lambda_timeout=30, lambda_memory_size=512))
    try:
        reply = _gateway.handle_request(method=method, path=target, headers=headers, body=body)
    except Unauthenticated:  # API Gateway answers 401 when the authorizer raises this
        return error_reply(errors.Unauthorized())
    except LocalGatewayException as e:  # no Authorization header (401) or a Deny policy (403)
        return error_reply(errors.Unauthorized() if e.CODE == 401 else errors.Forbidden())
    payload = reply.get("body") or b""
    if reply.get("isBase64Encoded"):
        payload = base64.b64decode(payload)
    elif isinstance(payload, str):
        payload = payload.encode()
    out_headers = dict(reply.get("headers") or {})
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        out_headers[name] = ", ".join(values)
    return reply["statusCode"], out_headers, payload


def invoke(handler_name: str, event: dict[str, Any]) -> Any:
    """One event-handler invocation in this container (the function Lambda would call)."""
    from devstack.lambda_runtime import LambdaContext, event_handlers

    if not _handlers:
        import app

        _handlers.update({h.name: h.handler for h in event_handlers(app.app)})
    return _handlers[handler_name](event, LambdaContext(handler_name))
