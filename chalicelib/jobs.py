"""Background jobs: named functions run from messages on the ``jobs`` queue.

A message body is ``{"job": "<name>", "args": {...}}``. Areas register their jobs with
:func:`job`; the queue handler calls :func:`run` for each record. Anything that cannot run
(bad JSON, unknown job, a job that raises) fails that record only, and after the queue's
``maxReceiveCount`` it rests in the dead-letter queue for inspection and redrive.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib import queues

JobFunction = Callable[[dict[str, Any]], Any]

_registry: dict[str, JobFunction] = {}


class PoisonMessage(Exception):
    """A message no retry can fix (malformed or naming no job)."""


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register ``fn`` as the job ``name``."""

    def register(fn: JobFunction) -> JobFunction:
        if name in _registry and _registry[name] is not fn:
            raise ValueError(f"job {name!r} is registered twice")
        _registry[name] = fn
        return fn

    return register


def registered() -> dict[str, JobFunction]:
    return dict(_registry)


def parse(body: str) -> tuple[str, dict[str, Any]]:
    try:
        message = json.loads(body)
    except ValueError as e:
        raise PoisonMessage(f"body is not JSON: {e}") from e
    if not isinstance(message, dict) or not isinstance(message.get("job"), str):
        raise PoisonMessage('body must be {"job": "<name>", "args": {...}}')
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise PoisonMessage("args must be an object")
    if message["job"] not in _registry:
        raise PoisonMessage(f"no job named {message['job']!r}")
    return message["job"], args


def run(body: str) -> Any:
    """Run the job a message names."""
    name, args = parse(body)
    return _registry[name](args)


def enqueue(name: str, args: dict[str, Any] | None = None, *, delay_seconds: int = 0) -> str:
    """Queue a job by name; returns the SQS message id."""
    if name not in _registry:
        raise ValueError(f"no job named {name!r}")
    return queues.send("jobs", {"job": name, "args": args or {}}, delay_seconds=delay_seconds)
