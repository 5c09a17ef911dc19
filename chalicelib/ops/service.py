"""Canary jobs and the heartbeat: ops' end-to-end proof that queues and schedules run.

``canary.ping`` records its delivery (ops send one and read it back); ``canary.fail`` always
fails, to prove that a failing message reaches the dead-letter queue and its alarm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.jobs import job
from chalicelib.observability import logger
from chalicelib.ops import store


class CanaryFailure(Exception):
    """Raised on purpose by ``canary.fail``."""


def _now() -> datetime:
    return datetime.now(UTC)


@job("canary.ping")
def ping(args: dict[str, Any]) -> None:
    canary_id = str(args.get("id") or "")
    if not canary_id:
        raise ValueError("canary.ping needs an id")
    store.record_canary(canary_id, _now())
    logger.info("canary delivered", extra={"canary_id": canary_id})


@job("canary.fail")
def fail(args: dict[str, Any]) -> None:
    raise CanaryFailure(f"canary {args.get('id')!r} fails on purpose")


def heartbeat(schedule_name: str) -> None:
    store.beat(schedule_name, _now())
