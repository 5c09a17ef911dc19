"""Analytics, pure: what a domain event adds to its day's counters, and the dashboard summary
of a range of days. No AWS here (the service stores and reads the counters)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import contract

TOP_ACTIVITIES = 10

# counter attribute -> name in the API; ``c:<channel>`` (events) and ``a:<activity>`` (points) besides
SERIES = {"events": "events", "rejected": "rejected_events", "failed": "failed_events", "issued": "points_issued",
          "reversed": "points_reversed", "redeemed": "points_redeemed", "redemptions": "redemptions",
          "returned": "points_returned", "cancellations": "cancellations", "added": "points_added",
          "deducted": "points_deducted"}
CHANNEL, ACTIVITY = "c:", "a:"


def day_of(at: datetime, zone: str) -> str:
    """The program-local date a counter belongs to."""
    return at.astimezone(ZoneInfo(zone)).date().isoformat()


def channel_of(message: Mapping[str, Any]) -> str:
    """The event's channel as counted: one the API documents, else ``other``."""
    channel = message.get("channel")
    return channel if channel in contract.channels() else "other"


def _positive(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def counters(message: Mapping[str, Any]) -> dict[str, int]:
    """The counters one domain event (its wire form) adds to its brand's day (empty: nothing to count)."""
    kind, points = message.get("type"), _positive(message.get("points"))
    if kind == "points.earned":
        counts = {"events": 1, CHANNEL + channel_of(message): 1, "issued": points}
        for activity in message.get("activities") or []:
            if isinstance(activity, Mapping) and isinstance(activity.get("activity_id"), str):
                paid = _positive(activity.get("points"))
                if paid:
                    key = ACTIVITY + activity["activity_id"]
                    counts[key] = counts.get(key, 0) + paid
        return counts
    if kind == "event.processed":
        if message.get("status") == "rejected":
            return {"events": 1, "rejected": 1}
        return {"events": 1, CHANNEL + channel_of(message): 1}
    if kind == "event.failed":  # its last retry failed; a redrive that processes it counts it as an event
        return {"failed": 1}
    if kind == "points.reversed":
        return {"reversed": points} if points else {}
    if kind == "points.adjusted":  # signed: manual credits and debits
        amount = message.get("points")
        if isinstance(amount, int) and not isinstance(amount, bool) and amount:
            return {"added": amount} if amount > 0 else {"deducted": -amount}
        return {}
    if kind == "redemption.fulfilled":
        return {"redeemed": points, "redemptions": 1}
    if kind == "redemption.cancelled":
        return {"returned": points, "cancellations": 1}
    return {}


def summary(days: Iterable[tuple[str, Mapping[str, int]]], first: date, last: date,
            names: Mapping[str, str]) -> dict[str, Any]:
    """The dashboard over ``first``..``last``: every day (zeros included), totals, events per
    channel and the activities that paid the most. ``days`` may repeat a date (one per shard);
    ``names`` maps activity ids to names."""
    merged: dict[str, dict[str, int]] = {}
    for day, counts in days:
        target = merged.setdefault(day, {})
        for name, value in counts.items():
            target[name] = target.get(name, 0) + value
    series, totals = [], dict.fromkeys(SERIES.values(), 0)
    channels: dict[str, int] = {}
    activities: dict[str, int] = {}
    for offset in range((last - first).days + 1):
        day = (first + timedelta(days=offset)).isoformat()
        counts = merged.get(day, {})
        row = {"date": day, **{api: counts.get(stored, 0) for stored, api in SERIES.items()}}
        series.append(row)
        for api in SERIES.values():
            totals[api] += row[api]
        for name, value in counts.items():
            if name.startswith(CHANNEL):
                channels[name[len(CHANNEL):]] = channels.get(name[len(CHANNEL):], 0) + value
            elif name.startswith(ACTIVITY):
                activities[name[len(ACTIVITY):]] = activities.get(name[len(ACTIVITY):], 0) + value
    top = sorted(((points, activity_id) for activity_id, points in activities.items() if points > 0),
                 key=lambda pair: (-pair[0], pair[1]))[:TOP_ACTIVITIES]
    return {
        "from": first.isoformat(), "to": last.isoformat(), "totals": totals, "days": series,
        "channels": [{"channel": c, "events": n} for c, n in sorted(channels.items(), key=lambda kv: (-kv[1], kv[0]))
                     if n > 0],
        "top_activities": [{"activity_id": a, "name": names.get(a), "points": p} for p, a in top],
    }
