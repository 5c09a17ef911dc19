"""A member's event counters, totals and streaks, per brand and event type.

Kept in a ledger guard per (brand, member, event type) and advanced exactly once per event,
in the same transaction that records the event's decision; so concurrent events of one member
are counted one after the other, and a redelivered event is never counted twice.

State: ``count`` (events so far), ``total`` (sum of their ``attributes.amount``), and the
current streaks of consecutive days and ISO weeks with such an event (program timezone):
``day``/``days`` and ``week``/``weeks``.

Facts the conditions read (``member.counters.<type>`` and ``member.totals.<type>`` count the
events *before* this one; ``member.streaks.<type>.days|weeks`` include this one), and the
before/after pairs that milestone rewards compare (:func:`milestone_reached`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

METRICS = ("count", "total", "days", "weeks")


def key(brand_id: str, member_id: str, event_type: str) -> str:
    return f"events:{brand_id}:{member_id}:{event_type}"


def fact_name(event_type: str) -> str:
    """``member.counters.<name>``: an event type with dots and dashes as underscores."""
    return re.sub(r"[.-]", "_", event_type)


def _amount(event: dict[str, Any]) -> Decimal:
    value = (event.get("attributes") or {}).get("amount")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return Decimal(0)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() and amount > 0 else Decimal(0)


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def advance(state: dict, event: dict[str, Any], at: datetime, zone) -> dict:
    """The state after one more event at ``at``. Streaks move forward only: an event older
    than the streak's last day is counted but does not rewrite the streak."""
    today = at.astimezone(zone).date()
    after = {"count": int(state.get("count", 0)) + 1,
             "total": str(Decimal(state.get("total", "0")) + _amount(event))}
    last = date.fromisoformat(state["day"]) if state.get("day") else None
    if last is None or today > last:
        after["day"], after["days"] = today.isoformat(), (int(state.get("days", 0)) + 1
                                                           if last == today - timedelta(days=1) else 1)
    else:
        after["day"], after["days"] = state["day"], int(state.get("days", 0))
    week, last_week = _week(today), state.get("week")
    if last_week is None or week > last_week:
        previous = _week(today - timedelta(days=7))
        after["week"], after["weeks"] = week, (int(state.get("weeks", 0)) + 1 if last_week == previous else 1)
    else:
        after["week"], after["weeks"] = last_week, int(state.get("weeks", 0))
    return after


def _number(value: str | int) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def facts(before: dict[str, dict], after: dict[str, dict]) -> dict[str, Any]:
    """``member.counters``, ``member.totals`` and ``member.streaks`` for the types read."""
    return {
        "counters": {fact_name(t): int(s.get("count", 0)) for t, s in before.items()},
        "totals": {fact_name(t): _number(s.get("total", "0")) for t, s in before.items()},
        "streaks": {fact_name(t): {"days": int(after.get(t, s).get("days", 0)),
                                   "weeks": int(after.get(t, s).get("weeks", 0))} for t, s in before.items()},
    }


def stats(before: dict, after: dict) -> dict[str, tuple[Decimal, Decimal]]:
    """Before/after pairs of one type's metrics, for milestones."""
    return {metric: (Decimal(str(before.get(metric, 0))), Decimal(str(after.get(metric, 0)))) for metric in METRICS}


def milestone_reached(pair: tuple[Decimal, Decimal], threshold: Decimal, repeat: bool) -> bool:
    """Did this event carry the metric across ``threshold`` (or, repeating, a multiple of it)?"""
    before, after = pair
    if repeat:
        return after // threshold > before // threshold and after > before
    return before < threshold <= after
