"""Evaluate an event against a compiled ruleset: which activities pay, how much, and why not.

A :class:`Ruleset` is compiled once per version and indexed by trigger, so an event only
meets the activities listening for its type. For each candidate, in order: status,
schedule (in the activity's timezone), audience (tiers, segments), conditions, reward. Then
stacking: ``stack`` activities all pay; within an ``exclusive:<group>`` the highest priority
wins; among ``highest_wins`` activities the one paying most wins. Limits and budgets are not
decided here: they need counters shared by concurrent events, which the pipeline keeps with
conditional writes. Each outcome carries them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from chalicelib.rules.activity import DAYS, Activity
from chalicelib.rules.conditions import MISSING, getter, necessary_values
from chalicelib.rules.counters import milestone_reached

_UTC = ZoneInfo("UTC")


class Facts:
    """What conditions read: ``event``, ``member`` and ``time`` (local to the activity)."""

    __slots__ = ("_numbers", "_times", "at", "event", "member", "stats", "time")

    def __init__(self, event: dict[str, Any], member: dict[str, Any], at: datetime,
                 stats: dict[str, tuple] | None = None) -> None:
        attributes = event.get("attributes")
        self.event = event if isinstance(attributes, dict) else {**event, "attributes": {}}
        self.member = member
        self.stats = stats  # before/after pairs of the member's counters for this event's type
        self.at = at
        self.time: dict[str, Any] = {}
        # every time dict is kept for the event's life, so its id in a cache key is never reused
        self._times: dict[Any, dict[str, Any]] = {None: self.time}
        self._numbers: dict[tuple[Callable, int], tuple[Decimal | None, str | None]] = {}

    def number(self, get: Callable) -> tuple[Decimal | None, str | None]:
        """(the fact ``get`` reads, as an exact positive Decimal, None) or (None, why it is
        not one): converted once per event, however many per-unit rewards read it."""
        key = (get, id(self.time))  # a time fact reads the activity's zone: one entry per zone
        found = self._numbers.get(key)
        if found is None:
            found = self._numbers[key] = _positive_number(get(self))
        return found

    def in_zone(self, zone: ZoneInfo) -> Facts:
        times = self._times.get(zone)
        if times is None:
            local = self.at.astimezone(zone)
            times = self._times[zone] = {"day_of_week": DAYS[local.weekday()], "hour": local.hour,
                                         "local_date": local.date().isoformat(),
                                         "local_time": local.strftime("%H:%M")}
        self.time = times
        return self


def _positive_number(value: Any) -> tuple[Decimal | None, str | None]:
    if value is MISSING:
        return None, "per_unit_fact_missing"
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None, "per_unit_fact_not_a_number"
    try:
        amount = Decimal(value) if type(value) is int else Decimal(str(value))
    except ArithmeticError:
        return None, "per_unit_fact_not_a_number"
    if not amount.is_finite() or amount <= 0:
        return None, "per_unit_fact_not_positive"
    return amount, None


class Outcome(NamedTuple):
    """An activity that pays for this event (before limits): what the ledger will be asked.
    Immutable and cheap to build (one per paying activity per event); compared and shown
    without the activity it came from."""

    activity_id: str
    version: int
    index: int
    points: int
    pending_for: str | None
    expires_after: str | None
    activity: Activity

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outcome) and self[:6] == other[:6]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self[:6])

    def __repr__(self) -> str:
        return (f"Outcome(activity_id={self.activity_id!r}, version={self.version!r}, index={self.index!r}, "
                f"points={self.points!r}, pending_for={self.pending_for!r}, expires_after={self.expires_after!r})")


@dataclass(frozen=True)
class Explanation:
    activity_id: str
    name: str
    matched: bool
    reason: str | None
    points: int = 0


@dataclass(frozen=True)
class Evaluation:
    outcomes: tuple[Outcome, ...]
    explanations: tuple[Explanation, ...] = ()


class _Trigger:
    """The activities of one trigger, in priority order, with an index on the values their
    conditions require: an event meets only the activities its values can satisfy (plus those
    with nothing to index). The index only narrows; every candidate's conditions still run."""

    _HASHABLE = frozenset({str, int, float, Decimal})

    def __init__(self, activities: list[Activity]) -> None:
        # priority order fixes outcome indexes (and so grant ids) whatever the storage order
        self.all = tuple(sorted(activities, key=lambda a: (-a.priority, a.id)))
        self.rank = {a.id: i for i, a in enumerate(self.all)}
        self.scan: list[Activity] = []
        tables: dict[str, dict[Any, list[Activity]]] = {}
        for activity in self.all:
            key = necessary_values(activity.source.get("conditions"))
            if key is None:
                self.scan.append(activity)
                continue
            fact, values = key
            table = tables.setdefault(fact, {})
            for value in dict.fromkeys(values):
                table.setdefault(value, []).append(activity)
        self.indexes = tuple((getter(fact), table) for fact, table in tables.items())

    def candidates(self, facts: Facts) -> list[Activity] | tuple[Activity, ...]:
        if not self.indexes:
            return self.all
        found = list(self.scan)
        for get, table in self.indexes:
            value = get(facts)
            if type(value) in self._HASHABLE:  # booleans never hit: none are indexed
                hit = table.get(value)
                if hit:
                    found.extend(hit)
        if len(found) > len(self.scan):
            found.sort(key=lambda a: self.rank[a.id])
        return found


class Ruleset:
    """A brand's active activities at one version, compiled and indexed by trigger."""

    def __init__(self, activities: Iterable[Activity], version: str | int = 0) -> None:
        self.version = version
        self.activities = tuple(activities)
        by_trigger: dict[str, list[Activity]] = {}
        for activity in self.activities:
            by_trigger.setdefault(activity.trigger, []).append(activity)
        self.triggers = {trigger: _Trigger(group) for trigger, group in by_trigger.items()}
        # every activity simply stacks (the common case): no stacking pass
        self.all_stack = all(a.stacking == "stack" for a in self.activities)

    def evaluate(self, event: dict[str, Any], member: dict[str, Any], at: datetime, *,
                 explain: bool = False, stats: dict[str, tuple] | None = None) -> Evaluation:
        """``stats``: the before/after pairs of the member's counters for the event's type
        (:func:`chalicelib.rules.counters.stats`); milestones need them."""
        facts = Facts(event, member, at, stats)
        trigger = self.triggers.get(event.get("type"))
        candidates = () if trigger is None else trigger.all if explain else trigger.candidates(facts)
        paying: list[tuple[Activity, int]] = []
        why: dict[str, tuple[str | None, int]] = {}
        tier = member.get("tier")
        factor = member.get("tier_multiplier")
        tier_multiplier = None if factor is None else factor if isinstance(factor, Decimal) else Decimal(str(factor))
        segments = member.get("segments") or ()
        for activity in candidates:
            reason = _refusal(activity, facts, at, tier, segments)
            points = 0
            if reason is None:
                points, reason = activity.reward.points_for(facts, tier, tier_multiplier)
            if reason is None:
                paying.append((activity, points))
            if explain:
                why[activity.id] = (reason, points)
        winners = paying if self.all_stack else _stack(paying, why)
        outcomes = tuple([Outcome(a.id, a.version, i, points, a.pending_for, a.expires_after, a)
                          for i, (a, points) in enumerate(winners)])
        if not explain:
            return Evaluation(outcomes)
        explanations = []
        for activity in self.activities:
            reason, points = why.get(activity.id, ("trigger_mismatch", 0))
            explanations.append(Explanation(activity.id, activity.name, reason is None, reason, points))
        return Evaluation(outcomes, tuple(explanations))


def _refusal(activity: Activity, facts: Facts, at: datetime, tier, segments) -> str | None:
    if activity.status != "active":
        return f"status_{activity.status}"
    if not activity.always_open:
        closed = activity.schedule.open_at(at)
        if closed:
            return closed
    if activity.tiers is not None and tier not in activity.tiers:
        return "tier_not_in_audience"
    if activity.segments is not None and not activity.segments.intersection(segments):
        return "segment_not_in_audience"
    if activity.condition is not None and not activity.condition(
            facts.in_zone(activity.schedule.zone) if activity.needs_time else facts):
        return "conditions_not_met"
    if activity.reward.milestone is not None:
        metric, threshold, repeat = activity.reward.milestone
        if facts.stats is None or not milestone_reached(facts.stats[metric], threshold, repeat):
            return "milestone_not_reached"
    return None


def _stack(paying: list[tuple[Activity, int]], why: dict) -> list[tuple[Activity, int]]:
    """Apply stacking; losers get their reason in ``why``. Keeps the candidates' order."""
    keep = {a.id for a, _ in paying}
    groups: dict[str, list[tuple[Activity, int]]] = {}
    for activity, points in paying:
        group = activity.exclusive_group
        if group is not None:
            groups.setdefault(group, []).append((activity, points))
    for group, members in groups.items():
        best = min(members, key=lambda m: (-m[0].priority, -m[1], m[0].id))
        for activity, points in members:
            if activity is not best[0]:
                keep.discard(activity.id)
                why[activity.id] = (f"lost_to_exclusive:{group}", points)
    highest = [(a, p) for a, p in paying if a.stacking == "highest_wins"]
    if highest:
        best = min(highest, key=lambda m: (-m[1], -m[0].priority, m[0].id))
        for activity, points in highest:
            if activity is not best[0]:
                keep.discard(activity.id)
                why[activity.id] = ("lost_to_highest_wins", points)
    return [(a, p) for a, p in paying if a.id in keep]
