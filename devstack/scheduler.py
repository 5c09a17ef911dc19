"""Fires the app's ``@app.schedule`` handlers on their rate or cron, as EventBridge would."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime

from devstack.lambda_runtime import EventHandler, LambdaContext, scheduled_event

log = logging.getLogger("devstack.schedule")

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_AWS_DOW = {str(n): str(n - 1) for n in range(1, 8)}  # AWS: 1=SUN..7=SAT; cron: 0=SUN..6=SAT


def rate_seconds(expression: str) -> int | None:
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def aws_cron_to_standard(expression: str) -> str:
    """``cron(m h dom mon dow year)`` (EventBridge) → five-field cron (year dropped)."""
    inner = expression.strip()
    if not (inner.startswith("cron(") and inner.endswith(")")):
        raise ValueError(f"not a cron expression: {expression!r}")
    fields = inner[5:-1].split()
    if len(fields) != 6:
        raise ValueError(f"EventBridge cron needs 6 fields: {expression!r}")
    minute, hour, dom, month, dow, _year = fields
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else re.sub(r"(?<!#)[1-7]", lambda m: _AWS_DOW[m.group(0)], dow)
    return " ".join([minute, hour, dom, month, dow])


def next_fire(expression: str, after: datetime, speedup: float = 1.0) -> datetime:
    """When a schedule next fires after ``after``. Rates run ``speedup`` times faster."""
    seconds = rate_seconds(expression)
    if seconds is not None:
        return datetime.fromtimestamp(after.timestamp() + seconds / speedup, UTC)
    from cronsim import CronSim

    return next(CronSim(aws_cron_to_standard(expression), after))


class Scheduler(threading.Thread):
    def __init__(self, handlers: list[EventHandler], stop: threading.Event, speedup: float = 1.0,
                 rule_prefix: str = "punchcard-local") -> None:
        super().__init__(name="scheduler", daemon=True)
        self.handlers, self.stop_event, self.speedup = handlers, stop, speedup
        self.rule_prefix = rule_prefix
        self.fired: dict[str, int] = {h.name: 0 for h in handlers}

    def run(self) -> None:
        now = datetime.now(UTC)
        due = {h.name: next_fire(h.schedule, now, self.speedup) for h in self.handlers}
        while not self.stop_event.is_set():
            now = datetime.now(UTC)
            for handler in self.handlers:
                if due[handler.name] <= now:
                    self.fire(handler, now)
                    due[handler.name] = next_fire(handler.schedule, now, self.speedup)
            wait = min((d - datetime.now(UTC)).total_seconds() for d in due.values()) if due else 1
            self.stop_event.wait(min(max(wait, 0.05), 1.0))

    def fire(self, handler: EventHandler, at: datetime) -> None:
        started = time.monotonic()
        try:
            handler.handler(scheduled_event(f"{self.rule_prefix}-{handler.name}", at), LambdaContext(handler.name))
            self.fired[handler.name] += 1
        except Exception:
            log.exception("schedule %s failed", handler.name)
        log.debug("schedule %s ran in %.1f ms", handler.name, (time.monotonic() - started) * 1000)
