"""HTTP blueprints. A route is: parse, one service call, shape the reply."""

from __future__ import annotations


def blueprints() -> list:
    """Every blueprint of the API, in registration order."""
    from chalicelib.api import (
        activities,
        analytics,
        auth,
        brands,
        events,
        health,
        leaderboard,
        ledger,
        me,
        members,
        rewards,
        session,
        tiers,
    )

    return [auth.bp, health.bp, brands.bp, session.bp, members.bp, me.bp, ledger.bp, activities.bp, events.bp,
            rewards.bp, tiers.bp, leaderboard.bp, analytics.bp]
