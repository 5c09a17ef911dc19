"""An activity (a brand's earning rule): checked and compiled once per version.

The JSON shape is the ``ActivityInput`` schema in ``openapi.json`` (structure, enums, sizes:
checked at the API). :func:`compile_activity` adds what a schema cannot say — facts that
exist, values that suit their operator, a timezone that exists, dates in order, a per-unit
fact that is numeric — and turns the activity into closures. Every error names the field
with a JSON pointer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.guards import duration
from chalicelib.rules.conditions import (
    Predicate,
    compile_condition,
    facts_of,
    getter,
    invalid,
    known_fact,
)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROUNDING = {"floor": ROUND_FLOOR, "round": ROUND_HALF_UP, "ceil": ROUND_CEILING}
MAX_POINTS = 10_000_000


def _date(value: Any, pointer: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(pointer, "not an RFC 3339 date-time", "format") from None
    if parsed.tzinfo is None:
        raise invalid(pointer, "a date-time needs a timezone offset (e.g. Z)", "format")
    return parsed


def _clock(value: str, pointer: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise invalid(pointer, "a time of day is HH:MM", "format") from None


@dataclass(frozen=True)
class Schedule:
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    days: frozenset[int] | None = None  # weekday() numbers, Monday = 0
    hours: tuple[time, time] | None = None  # [from, to) in local time; to <= from spans midnight

    def open_at(self, now: datetime) -> str | None:
        """None when the activity runs at ``now``, else why not."""
        if self.starts_at and now < self.starts_at:
            return "not_started"
        if self.ends_at and now >= self.ends_at:
            return "ended"
        if self.days is None and self.hours is None:
            return None
        local = now.astimezone(self.zone)
        if self.days is not None and local.weekday() not in self.days:
            return "outside_days"
        if self.hours is not None:
            start, end = self.hours
            at = local.time().replace(tzinfo=None)
            inside = start <= at < end if start < end else (at >= start or at < end)
            if not inside:
                return "outside_hours"
        return None


@dataclass(frozen=True)
class Reward:
    points: int | None = None  # fixed
    per_unit: tuple[Callable, Decimal, Decimal, str] | None = None  # getter, points, unit, rounding
    multipliers: dict[str, Decimal] = field(default_factory=dict)
    max_points: int | None = None
    milestone: tuple[str, Decimal, bool] | None = None  # metric, threshold, repeat

    def points_for(self, facts, tier: str | None, tier_multiplier: Decimal | None = None) -> tuple[int, str | None]:
        """(points, None) or (0, why there are none). The activity's own multiplier for the
        tier wins over the tier's program-wide ``tier_multiplier``."""
        multiplier = self.multipliers.get(tier) if tier and self.multipliers else None
        if multiplier is None and tier_multiplier is not None and tier_multiplier != 1:
            multiplier = tier_multiplier
        if self.points is not None and multiplier is None:  # the common case: no arithmetic at all
            value = self.points if self.max_points is None else min(self.points, self.max_points)
            return value, None
        multiplier = multiplier or Decimal(1)
        if self.points is not None:
            raw = Decimal(self.points) * multiplier
            rounding = "floor"
        else:
            get, points, unit, rounding = self.per_unit
            amount, refused = facts.number(get)
            if refused:
                return 0, refused
            raw = +amount if unit == 1 else amount / unit  # +: rounded to the context, as a division by 1 was
            raw = raw if points == 1 else raw * points
            raw = raw if multiplier == 1 else raw * multiplier
        value = int(raw.to_integral_value(rounding=ROUNDING[rounding]))
        if self.max_points is not None:
            value = min(value, self.max_points)
        return (value, None) if value > 0 else (0, "zero_points")


@dataclass(frozen=True)
class Limit:
    scope: str  # member | activity
    period: str  # day | week | month | year | forever
    window: str  # calendar | rolling
    max_times: int | None
    max_points: int | None


@dataclass(frozen=True)
class Activity:
    id: str
    version: int
    brand_id: str
    name: str
    channel: str
    status: str
    trigger: str
    condition: Predicate | None
    tiers: frozenset[str] | None
    segments: frozenset[str] | None
    reward: Reward
    limits: tuple[Limit, ...]
    on_exhausted: str
    schedule: Schedule
    pending_for: str | None
    expires_after: str | None
    priority: int
    stacking: str  # stack | exclusive:<group> | highest_wins
    needs_time: bool = False  # the conditions read time.* facts (local to the schedule's timezone)
    always_open: bool = True  # no schedule limits at all
    source: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def exclusive_group(self) -> str | None:
        return self.stacking.split(":", 1)[1] if self.stacking.startswith("exclusive:") else None


def _reward(data: dict) -> Reward:
    multipliers = {}
    for tier, factor in (data.get("multipliers") or {}).items():
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor <= 100:
            raise invalid(f"/reward/multipliers/{tier}", "a multiplier is a number above 0, at most 100", "range")
        multipliers[tier] = Decimal(str(factor))
    cap = data.get("max_points")
    if ("points" in data and "per_unit" in data) or ("points" not in data and "per_unit" not in data):
        raise invalid("/reward", "a reward is either points or per_unit", "oneOf")
    milestone = None
    if data.get("milestone"):
        spec = data["milestone"]
        milestone = (spec["metric"], Decimal(str(spec["at"])), bool(spec.get("repeat", False)))
        if spec["metric"] != "total" and milestone[1] != milestone[1].to_integral_value():
            raise invalid("/reward/milestone/at", "a count or streak milestone is a whole number", "integer")
    if "points" in data:
        return Reward(points=int(data["points"]), multipliers=multipliers, max_points=cap, milestone=milestone)
    per_unit = data["per_unit"]
    fact = per_unit.get("fact")
    if not known_fact(fact):
        raise invalid("/reward/per_unit/fact", f"unknown fact {fact!r}", "fact")
    unit = Decimal(str(per_unit.get("unit", 1)))
    if unit <= 0:
        raise invalid("/reward/per_unit/unit", "the unit is above 0", "range")
    points = Decimal(str(per_unit.get("points", 1)))
    return Reward(per_unit=(getter(fact), points, unit, per_unit.get("rounding", "floor")),
                  multipliers=multipliers, max_points=cap, milestone=milestone)


def _schedule(data: dict | None) -> Schedule:
    if not data:
        return Schedule()
    try:
        zone = ZoneInfo(data.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("/schedule/timezone", f"unknown timezone {data.get('timezone')!r}", "timezone") from None
    starts, ends = _date(data.get("starts_at"), "/schedule/starts_at"), _date(data.get("ends_at"), "/schedule/ends_at")
    if starts and ends and ends <= starts:
        raise invalid("/schedule/ends_at", "ends_at comes after starts_at", "order")
    days = frozenset(DAYS.index(d) for d in data["days"]) if data.get("days") else None
    hours = None
    if data.get("hours"):
        start = _clock(data["hours"].get("from"), "/schedule/hours/from")
        end = _clock(data["hours"].get("to"), "/schedule/hours/to")
        if start == end:
            raise invalid("/schedule/hours/to", "an empty window: from and to differ", "order")
        hours = (start, end)
    return Schedule(starts, ends, zone, days, hours)


def compile_activity(data: dict, *, activity_id: str, version: int, brand_id: str) -> Activity:
    """A structurally valid activity (``ActivityInput``) → an :class:`Activity`, or
    ``validation_failed`` with the pointer of the first field that cannot work."""
    condition = compile_condition(data["conditions"]) if data.get("conditions") else None
    needs_time = any(fact.startswith("time.") for fact in facts_of(data.get("conditions")))
    schedule = _schedule(data.get("schedule"))
    audience = data.get("audience") or {}
    limits = tuple(Limit(item["scope"], item["period"], item.get("window", "calendar"), item.get("max_times"),
                         item.get("max_points")) for item in data.get("limits") or ())
    for i, limit in enumerate(limits):
        if limit.max_times is None and limit.max_points is None:
            raise invalid(f"/limits/{i}", "a limit caps max_times, max_points or both", "required")
        if limit.window == "rolling" and limit.period == "forever":
            raise invalid(f"/limits/{i}/window", "a rolling window needs a period other than forever", "window")
        if limit.window == "rolling" and limit.scope == "activity":
            raise invalid(f"/limits/{i}/window", "an activity budget counts calendar periods", "window")
    for key in ("pending_for", "expires_after"):
        if data.get(key):
            try:
                duration(data[key])
            except Exception:
                raise invalid(f"/{key}", "an ISO 8601 duration such as P14D or P12M", "format") from None
    return Activity(
        id=activity_id, version=version, brand_id=brand_id, name=data["name"], channel=data.get("channel", "other"),
        status=data.get("status", "draft"), trigger=data["trigger"]["event"], condition=condition,
        tiers=frozenset(audience["tiers"]) if audience.get("tiers") else None,
        segments=frozenset(audience["segments"]) if audience.get("segments") else None,
        reward=_reward(data["reward"]), limits=limits, on_exhausted=data.get("on_exhausted", "skip"),
        schedule=schedule, pending_for=data.get("pending_for"),
        expires_after=data.get("expires_after"), priority=int(data.get("priority", 0)),
        stacking=data.get("stacking", "stack"), needs_time=needs_time,
        always_open=schedule == Schedule(zone=schedule.zone), source=data)
