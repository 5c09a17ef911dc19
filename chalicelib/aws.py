"""boto3 clients, built lazily once per Lambda container (the AWS composition root).

Endpoints come from the standard variables (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_<SERVICE>``), which boto3 reads itself: the same code talks to AWS in the
cloud and to DynamoDB Local / moto on a laptop. Clients are cached per (service, region,
endpoint) so a process that changes endpoints (tests) never reuses a stale one.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from chalicelib import config

# Connections kept per client. botocore's default, 10, is less than the threads that share a
# client: the local stack's 15 queue pollers, a batch accept's 8 threads, the dashboard's 8
# parallel queries; past it urllib3 drops connections and opens new ones on every request.
MAX_POOL_CONNECTIONS = 32

_lock = threading.Lock()
_clients: dict[tuple[str, str, str | None], Any] = {}
_session: Any = None


def _endpoint_for(service: str) -> str | None:
    specific = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    return os.environ.get(specific) or os.environ.get("AWS_ENDPOINT_URL")


def client(service: str) -> Any:
    """A shared boto3 client for ``service`` (thread-safe; creation is serialised)."""
    key = (service, config.region(), _endpoint_for(service))
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            global _session
            if _session is None:
                import boto3  # imported on first use: keeps cold start off the import path

                _session = boto3.session.Session()
            from botocore.config import Config

            found = _session.client(service, region_name=key[1],
                                    config=Config(max_pool_connections=MAX_POOL_CONNECTIONS))
            _clients[key] = found
        return found


def reset() -> None:
    """Forget cached clients (tests that move endpoints)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
