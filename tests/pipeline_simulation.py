"""A seeded simulation of the earn pipeline, run on the in-memory and the DynamoDB stores (the
ledger's and the pipeline's decisions).

Random activities (fixed and per-unit rewards, member limits by times and points over calendar
and rolling windows, sharded budgets with skip and partial, count and streak milestones) and
random events for a few members over a few days. Deliveries are duplicated and reordered, and
crashes are injected after a grant commits (before the message would be acknowledged): the
crashed event is delivered again later. After the run, from the ledger alone:

- every event's result is the same on every delivery after the first complete one (a
  skipped outcome may name another full limit: limits only fill up);
- no grant was made twice: one transfer per (event, activity, version, index), each with the
  points its result reports;
- every member limit and every budget holds, recomputed from the grants themselves;
- counters moved once per event, and a count milestone without limits paid once per
  threshold the member's count of events crossed (``floor(count / at)`` times when repeating);
- each member's balance equals the sum of their grants.

A failure prints the seed; ``PIPELINE_SEED=<n>`` replays it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.events.pipeline import Event, Pipeline
from chalicelib.ledger.service import Ledger
from chalicelib.rules import counters
from chalicelib.rules.activity import compile_activity
from chalicelib.rules.engine import Ruleset
from chalicelib.rules.limits import period_id

START = datetime(2026, 6, 1, 8, tzinfo=UTC)
TYPES = ("purchase", "check_in")


class Crash(Exception):
    """The process died after a commit, before the message was acknowledged."""


def activities(rng: random.Random) -> list[dict]:
    made = []
    for i in range(rng.randint(2, 6)):
        event_type = rng.choice(TYPES)
        reward = {"points": rng.randint(1, 50)} if rng.random() < 0.6 else \
            {"per_unit": {"fact": "event.attributes.amount", "points": 1}}
        if rng.random() < 0.2:
            reward = {"points": rng.randint(10, 90), "milestone": rng.choice([
                {"metric": "count", "at": rng.randint(2, 6)},
                {"metric": "count", "at": rng.randint(2, 4), "repeat": True},
                {"metric": "days", "at": 2, "repeat": True}])}
        limits = []
        if rng.random() < 0.5:
            limits.append({"scope": "member", "period": rng.choice(["day", "week", "forever"]),
                           "window": "calendar", **rng.choice([{"max_times": rng.randint(1, 3)},
                                                               {"max_points": rng.randint(20, 120)}])})
        if rng.random() < 0.2:
            limits.append({"scope": "member", "period": "day", "window": "rolling", "max_times": rng.randint(1, 2)})
        if rng.random() < 0.4:
            limits.append({"scope": "activity", "period": rng.choice(["day", "forever"]),
                           **rng.choice([{"max_times": rng.randint(3, 20)}, {"max_points": rng.randint(30, 400)}])})
        made.append({"name": f"a{i}", "status": "active", "trigger": {"event": event_type}, "reward": reward,
                     "limits": limits, "on_exhausted": rng.choice(["skip", "partial"]), "priority": i})
    return made


def _paid(result: dict) -> dict:
    return {**result, "outcomes": [{k: v for k, v in o.items() if not (k == "reason" and o["status"] == "skipped")}
                                   for o in result["outcomes"]]}


class CrashingDecisions:
    """The decisions given, but a claim may crash right after the decision is stored."""

    def __init__(self, decisions, simulation: PipelineSimulation) -> None:
        self.decisions, self.simulation = decisions, simulation
        self.read_guards, self.claimed = decisions.read_guards, decisions.claimed

    def claim(self, key, value, guards=()):
        stored = self.decisions.claim(key, value, guards)
        if self.simulation.crash_next and self.simulation.rng.random() < 0.5:
            self.simulation.crash_next = False
            raise Crash(key)
        return stored


class PipelineSimulation:
    def __init__(self, seed: int, store, decisions, namespace: str = "") -> None:
        self.seed, self.rng, self.store, self.decisions = seed, random.Random(seed), store, decisions
        self.crash_next = False
        store.fault = self._fault
        self.definitions = activities(self.rng)
        self.brand = f"{namespace}b"
        compiled = [compile_activity(d, activity_id=f"{namespace}act{i}", version=1, brand_id=self.brand)
                    for i, d in enumerate(self.definitions)]
        self.activities = {a.id: a for a in compiled}
        self.ruleset = Ruleset(compiled)
        self.members = [f"{namespace}m{i}" for i in range(3)]
        self.pipeline = Pipeline(Ledger(store, lambda: START), CrashingDecisions(decisions, self),
                                 lambda brand: self.ruleset,
                                 lambda member, at: {"id": member}, ZoneInfo("UTC"))
        self.events: list[Event] = []
        self.results: dict[str, dict] = {}
        self.stats = defaultdict(int)

    def _fault(self, point, transfer) -> None:
        if point == "committed" and self.crash_next:
            self.crash_next = False
            raise Crash(transfer.id)

    def new_event(self, n: int) -> Event:
        at = START + timedelta(hours=self.rng.randint(0, 24 * 5))
        return Event(f"{self.brand}-e{n}", self.brand, self.rng.choice(self.members), self.rng.choice(TYPES), at,
                     {"amount": self.rng.randint(1, 60)})

    def deliver(self, event: Event) -> None:
        self.crash_next = self.rng.random() < 0.15
        try:
            result = self.pipeline.process(event)
        except Crash:
            self.stats["crashes"] += 1
            return
        finally:
            self.crash_next = False
        if event.id in self.results:
            self.stats["replays"] += 1
            # a skip stays a skip (limits only fill up), though which limit says so may change
            assert _paid(result) == _paid(self.results[event.id]), f"seed {self.seed}: {event.id} changed"
        self.results[event.id] = result

    def play(self, steps: int) -> None:
        for n in range(steps):
            event = self.new_event(n)
            self.events.append(event)
            self.deliver(event)
            if self.rng.random() < 0.3:
                self.deliver(self.rng.choice(self.events))  # a duplicate or a late redelivery
        for event in self.events:  # the queue drains: every crashed event comes back until done
            while event.id not in self.results:
                self.deliver(event)
        self.audit()

    def audit(self) -> None:
        seed = self.seed
        grants: dict[str, list] = defaultdict(list)  # activity -> [(event, points)]
        balance: dict[str, int] = defaultdict(int)
        by_id = {e.id: e for e in self.events}
        for event_id, result in self.results.items():
            event = by_id[event_id]
            for outcome in result["outcomes"]:
                if outcome["status"] != "granted":
                    continue
                transfer = self.store.transfer(outcome["transfer_id"])
                assert transfer is not None, f"seed {seed}: {outcome}"
                assert transfer.amount == outcome["points"], f"seed {seed}: {outcome}"
                assert outcome["points"] <= outcome["requested_points"], f"seed {seed}: {outcome}"
                grants[outcome["activity_id"]].append((event, outcome["points"]))
                balance[event.member_id] += outcome["points"]
        for member in self.members:
            assert self.store.book(member).posted == balance[member], f"seed {seed}: {member}'s balance"
        for activity_id, paid in grants.items():
            activity = self.activities[activity_id]
            for limit in activity.limits:
                groups: dict[tuple, list] = defaultdict(list)
                for event, points in paid:
                    who = event.member_id if limit.scope == "member" else "*"
                    window = "rolling" if limit.window == "rolling" else period_id(limit.period, event.occurred_at,
                                                                                   activity.schedule.zone)
                    groups[(who, window)].append((event, points))
                for (_, window), members_paid in groups.items():
                    if window == "rolling":  # any 24 hours hold at most max_times grants
                        stamps = sorted(e.occurred_at for e, _ in members_paid)
                        for start in stamps:
                            inside = [s for s in stamps if timedelta(0) <= s - start < timedelta(days=1)]
                            assert len(inside) <= limit.max_times, f"seed {seed}: rolling limit of {activity_id}"
                        continue
                    if limit.max_times is not None:
                        assert len(members_paid) <= limit.max_times, f"seed {seed}: {activity_id} {limit}"
                    if limit.max_points is not None:
                        assert sum(p for _, p in members_paid) <= limit.max_points, f"seed {seed}: {activity_id}"
        self._audit_counters(grants)

    def _audit_counters(self, grants: dict[str, list]) -> None:
        per_key: dict[str, int] = defaultdict(int)
        for event in self.events:
            per_key[counters.key(event.brand_id, event.member_id, event.type)] += 1
        states = self.decisions.read_guards(list(per_key))
        for key, count in per_key.items():
            assert states[key][1].get("count") == count, f"seed {self.seed}: {key} counted {states[key]}"
        for activity in self.activities.values():
            milestone = activity.reward.milestone
            if milestone is None or milestone[0] != "count" or activity.limits:
                continue
            _, at, repeat = milestone
            for member in self.members:
                count = per_key.get(counters.key(self.brand, member, activity.trigger), 0)
                expected = count // int(at) if repeat else int(count >= at)
                paid = sum(1 for event, _ in grants.get(activity.id, []) if event.member_id == member)
                assert paid == expected, f"seed {self.seed}: {activity.id} paid {member} {paid}x, not {expected}x"
                self.stats["milestones"] += paid
        self.stats["events"] = len(self.events)
