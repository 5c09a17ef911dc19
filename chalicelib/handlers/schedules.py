"""EventBridge schedule entry points."""

from __future__ import annotations

from chalicelib.ops import service as ops

HEARTBEAT_RATE = "rate(1 minute)"


def heartbeat(event) -> None:
    """Proves the scheduler runs: ops alarm when the heartbeat record goes stale."""
    ops.heartbeat("heartbeat")
