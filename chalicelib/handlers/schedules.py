"""EventBridge schedule entry points."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Cron

from chalicelib import bootstrap
from chalicelib.observability import logger
from chalicelib.ops import service as ops

HEARTBEAT_RATE = "rate(1 minute)"
SWEEP_RATE = "rate(5 minutes)"  # re-enqueue accepted events whose message never came
EXPIRY_SCHEDULE = Cron(15, 0, "*", "*", "?", "*")  # 00:15 UTC daily, after lots' midnight expiry
TIER_REVIEW_SCHEDULE = Cron(30, 0, "*", "*", "?", "*")  # 00:30 UTC daily


def heartbeat(event) -> None:
    """Proves the scheduler runs: ops alarm when the heartbeat record goes stale."""
    ops.heartbeat("heartbeat")


def expire_points(event) -> None:
    """Daily: queue the expiry of every lot due today (and catch up on the last week)."""
    sent = bootstrap.expiry().start_daily_expiry(datetime.now(UTC).date())
    ops.heartbeat("expire_points")
    logger.info("expiry queued", extra={"messages": sent})


def sweep_redemptions(event) -> None:
    """Every few minutes: settle redemptions a crash left half-way (void or post their hold)."""
    settled = bootstrap.redemptions().sweep(datetime.now(UTC))
    if settled:
        logger.warning("redemptions settled by the sweeper", extra={"redemptions": settled})


def review_tiers(event) -> None:
    """Daily: warn members whose tier is about to lapse and downgrade those whose grace ended."""
    sent = bootstrap.tiers().start_review(datetime.now(UTC).date())
    ops.heartbeat("review_tiers")
    logger.info("tier review queued", extra={"messages": sent})
