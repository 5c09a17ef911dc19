"""Limits and budgets as guards: what an outcome may still pay, and the counters it moves.

A member limit (``scope: member``) counts the grants an activity paid one member in a period;
an activity budget (``scope: activity``) counts everything the activity paid. Both are kept in
ledger guards (:class:`chalicelib.guards.Guard`) that commit in the grant's own
transaction on condition of the version read, so concurrent events can never overspend:
a loser's transaction is refused, it reads again and decides again.

- **Calendar** periods (day, week, month, year; ``forever``) are in the activity's timezone;
  a guard holds the current period's id and resets when a new one starts.
- **Rolling** periods (member limits only) keep a log of ``[epoch seconds, points]``; a grant
  counts against every grant less than one period away from its event, before or after (events
  may arrive out of order).
- **Budgets** are split over :data:`BUDGET_SHARDS` guards so one activity is not one hot key.
  A grant reads them all (one batch), starts at a shard picked from its own id and takes from
  as many as it needs, so the whole budget is spendable.

``on_exhausted``: ``skip`` pays nothing when the full reward does not fit; ``partial`` pays
what is left (a member ``max_points`` cap or a points budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.guards import Guard
from chalicelib.ids import shard_of
from chalicelib.rules.activity import Activity, Limit

BUDGET_SHARDS = 8
KEEP_PERIODS = 8  # calendar periods a guard keeps counts for (late events count in their own period)
LATE = timedelta(days=7)  # how late an event may be for a rolling window to still judge it
ROLLING = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30),
           "year": timedelta(days=365)}


@dataclass(frozen=True)
class Subject:
    """What limits need of an activity; kept in an event's decision so a redelivery applies
    the limits of the version that decided, whatever the activity has become since."""

    id: str
    limits: tuple[Limit, ...]
    zone: object
    on_exhausted: str

    @classmethod
    def of(cls, activity: Activity) -> Subject:
        return cls(activity.id, activity.limits, activity.schedule.zone, activity.on_exhausted)

    def to_json(self) -> dict:
        limits = [[x.scope, x.period, x.window, x.max_times, x.max_points] for x in self.limits]
        return {"activity_id": self.id, "limits": limits,
                "timezone": str(self.zone), "on_exhausted": self.on_exhausted}

    @classmethod
    def from_json(cls, data: dict) -> Subject:
        return cls(data["activity_id"], tuple(Limit(*limit) for limit in data["limits"]),
                   ZoneInfo(data["timezone"]), data["on_exhausted"])


def period_id(period: str, at: datetime, zone) -> str:
    """The calendar period ``at`` falls in, in ``zone``: ``2026-11-23``, ``2026-W47``, ..."""
    if period == "forever":
        return "forever"
    local = at.astimezone(zone)
    if period == "day":
        return local.date().isoformat()
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{local.year}-{local.month:02d}"
    return str(local.year)


def _key(activity: Subject, limit: Limit, member_id: str, shard: int | None = None) -> str:
    base = f"limit:{activity.id}:{limit.period}:{limit.window}"
    return f"{base}:member:{member_id}" if shard is None else f"{base}:budget:{shard}"


def shard_capacity(total: int | None, shard: int) -> int | None:
    if total is None:
        return None
    return total // BUDGET_SHARDS + (1 if shard < total % BUDGET_SHARDS else 0)


def member_keys(activity: Subject, member_id: str) -> list[str]:
    """The guards of ``activity``'s member limits for ``member_id`` (what :func:`remaining` reads)."""
    return list(dict.fromkeys(_key(activity, limit, member_id) for limit in activity.limits if limit.scope == "member"))


def guard_keys(activity: Subject, member_id: str) -> list[str]:
    """Every guard an outcome of ``activity`` for ``member_id`` reads."""
    keys: list[str] = []
    for limit in activity.limits:
        if limit.scope == "member":
            keys.append(_key(activity, limit, member_id))
        else:
            keys += [_key(activity, limit, member_id, shard) for shard in range(BUDGET_SHARDS)]
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class Decision:
    points: int  # what may be granted (0: nothing)
    guards: tuple[Guard, ...]  # to commit with the grant
    reason: str | None = None  # why less than asked: limit_reached | budget_exhausted
    requested: int = 0


def _calendar(state: dict, period: str) -> tuple[int, int] | None:
    """(times, points) counted in ``period``; None if that period's count was dropped."""
    if state.get("pruned") and period <= state["pruned"]:
        return None
    counted = state.get("periods", {}).get(period)
    return (int(counted[0]), int(counted[1])) if counted else (0, 0)


def _calendar_state(state: dict, period: str, times: int, points: int) -> dict:
    """The state with ``period``'s count set; only the :data:`KEEP_PERIODS` latest are kept."""
    periods = {**state.get("periods", {}), period: [times, points]}
    pruned = state.get("pruned")
    for old in sorted(periods)[:-KEEP_PERIODS]:
        pruned = old if pruned is None else max(pruned, old)
        del periods[old]
    return {"periods": periods, **({"pruned": pruned} if pruned else {})}


def _rolling_log(state: dict, at: datetime, length: timedelta) -> tuple[list, int, int] | None:
    """(log, times, points) of grants less than ``length`` from ``at`` either way; None if
    grants that near were dropped from the log."""
    stamp, span = at.timestamp(), length.total_seconds()
    if state.get("pruned") is not None and state["pruned"] > stamp - span:
        return None
    log = state.get("log", [])
    near = [entry for entry in log if abs(entry[0] - stamp) < span]
    return log, len(near), sum(int(entry[1]) for entry in near)


def _rolling_state(state: dict, log: list, at: datetime, points: int, length: timedelta) -> dict:
    """The log with this grant; entries older than a period (and :data:`LATE`) before the
    newest are dropped, and the newest dropped is remembered."""
    log = [*log, [at.timestamp(), points]]
    cutoff = max(entry[0] for entry in log) - length.total_seconds() - LATE.total_seconds()
    dropped = [entry[0] for entry in log if entry[0] <= cutoff]
    pruned = max([*dropped, state["pruned"]] if state.get("pruned") is not None else dropped, default=None)
    return {"log": [entry for entry in log if entry[0] > cutoff], **({"pruned": pruned} if pruned else {})}


def _room(limit: Limit, times: int, points: int) -> tuple[bool, int | None]:
    """(a grant may still happen, points left or None for no points cap)."""
    if limit.max_times is not None and times >= limit.max_times:
        return False, 0
    left = None if limit.max_points is None else max(0, limit.max_points - points)
    return left != 0, left


def remaining(activity: Subject, member_id: str, at: datetime, states: dict[str, tuple[int, dict]]) -> list[dict]:
    """What each member limit leaves the member at ``at``: ``{period, window, times_left,
    points_left}`` (None where the limit has no such cap), for showing, not deciding."""
    left = []
    for limit in activity.limits:
        if limit.scope != "member":
            continue
        _, state = states.get(_key(activity, limit, member_id), (0, {}))
        if limit.window == "rolling":
            counted = _rolling_log(state, at, ROLLING[limit.period])
            times, points = (counted[1], counted[2]) if counted else (0, 0)
        else:
            times, points = _calendar(state, period_id(limit.period, at, activity.zone)) or (0, 0)
        left.append({"period": limit.period, "window": limit.window,
                     "times_left": None if limit.max_times is None else max(0, limit.max_times - times),
                     "points_left": None if limit.max_points is None else max(0, limit.max_points - points)})
    return left


def decide(activity: Subject, member_id: str, points: int, at: datetime, seed: str,
           states: dict[str, tuple[int, dict]]) -> Decision:
    """What an outcome of ``points`` may pay given the guards read (``states``)."""
    allowed, reason = points, None
    plans: list[tuple[str, Limit, object]] = []
    planned: set[tuple[str, str, str]] = set()  # limits sharing a period share their guards
    for limit in activity.limits:
        shared = (limit.scope, limit.period, limit.window) in planned
        planned.add((limit.scope, limit.period, limit.window))
        if limit.scope == "member":
            key = _key(activity, limit, member_id)
            version, state = states[key]
            if limit.window == "rolling":
                counted = _rolling_log(state, at, ROLLING[limit.period])
                plan = ("rolling", limit, (key, version, state, counted and counted[0]))
            else:
                period = period_id(limit.period, at, activity.zone)
                counted = _calendar(state, period)
                plan = ("calendar", limit, (key, version, state, period))
            if counted is None:
                return Decision(0, (), "limit_window_closed", points)
            plans += [] if shared else [plan]
            ok, left = _room(limit, *counted[-2:])
            why = "limit_reached"
        else:
            period = period_id(limit.period, at, activity.zone)
            shards = []
            for shard in range(BUDGET_SHARDS):
                key = _key(activity, limit, member_id, shard)
                version, state = states[key]
                counted = _calendar(state, period)
                if counted is None:
                    return Decision(0, (), "limit_window_closed", points)
                shards.append((shard, key, version, *counted, state))
            times_left = None if limit.max_times is None else sum(
                max(0, shard_capacity(limit.max_times, s) - t) for s, _, _, t, _, _ in shards)
            left = None if limit.max_points is None else sum(
                max(0, shard_capacity(limit.max_points, s) - u) for s, _, _, _, u, _ in shards)
            ok = (times_left is None or times_left > 0) and left != 0
            plans += [] if shared else [("budget", _merged(activity, limit), (shards, period))]
            why = "budget_exhausted"
        if not ok:
            return Decision(0, (), why, points)
        if left is not None and left < allowed:
            allowed, reason = left, why
    if allowed < points and activity.on_exhausted != "partial":
        return Decision(0, (), reason, points)
    return Decision(allowed, tuple(_guards(plans, allowed, at, seed)), reason if allowed < points else None, points)


def _merged(activity: Subject, limit: Limit) -> Limit:
    """A budget with every cap of the activity's budgets over the same period (one set of shards)."""
    same = [x for x in activity.limits if (x.scope, x.period, x.window) == (limit.scope, limit.period, limit.window)]
    times = [x.max_times for x in same if x.max_times is not None]
    points = [x.max_points for x in same if x.max_points is not None]
    return Limit(limit.scope, limit.period, limit.window, min(times) if times else None,
                 min(points) if points else None)


def _guards(plans, points: int, at: datetime, seed: str):
    start = shard_of(seed, BUDGET_SHARDS)
    for kind, limit, plan in plans:
        if kind == "calendar":
            key, version, state, period = plan
            times, used = _calendar(state, period)
            yield Guard(key, version, _calendar_state(state, period, times + 1, used + points))
        elif kind == "rolling":
            key, version, state, log = plan
            yield Guard(key, version, _rolling_state(state, log, at, points, ROLLING[limit.period]))
        else:
            shards, period = plan
            order = shards[start:] + shards[:start]
            updates: dict[int, list[int]] = {}  # shard -> [times, points] to add
            if limit.max_times is not None:  # decide() found room, so some shard has a time left
                first = next(s for s in order if s[3] < shard_capacity(limit.max_times, s[0]))
                updates[first[0]] = [1, 0]
                order = [first] + [s for s in order if s is not first]
            if limit.max_points is None:  # a times-only budget: points are counted where the time went
                updates.setdefault(order[0][0], [0, 0])[1] += points
            else:
                need = points
                for shard, _, _, _, used, _ in order:
                    take = min(need, max(0, shard_capacity(limit.max_points, shard) - used))
                    if take:
                        updates.setdefault(shard, [0, 0])[1] += take
                        need -= take
                    if not need:
                        break
            for shard, key, version, times, used, state in shards:
                if shard in updates:
                    add_times, add_points = updates[shard]
                    yield Guard(key, version, _calendar_state(state, period, times + add_times, used + add_points))
