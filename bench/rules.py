"""Rules engine throughput, side by side with zen-engine and business-rules in the same run.

A seeded workload: N activities over 10 event types (1 to 3 conditions each on event attributes
and the member's tier, fixed or per-unit rewards) and 10,000 events. Collect semantics: every
matching activity pays. Each engine's results are checked against a plain-Python reference
interpreter before anything is timed; a mismatch aborts the run.

- punchcard: ``Ruleset.evaluate`` (compiled closures, activities indexed by trigger);
- zen-engine: one decision graph per event type (its best case: the same trigger index),
  a ``collect`` decision table whose rows are the activities, evaluated through the loader
  fast path ``ZenEngine({"loader": ...}).evaluate(key, context)``;
- business-rules: ``run_all`` over the event type's rules with ``stop_on_first_trigger=False``.

A third workload, ``payout``, has every activity of an event type pay (10 a type, fixed and
per-unit rewards on amounts in cents, tier audiences): the cost of each paying activity.

Usage: ``.venv/bin/python bench/rules.py [activities ...]`` (default: 100 1000). Needs
requirements-bench.txt (zen-engine, business-rules): ``make bench`` installs it.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.rules.activity import compile_activity  # noqa: E402
from chalicelib.rules.engine import Ruleset  # noqa: E402
from tests import rules_reference  # noqa: E402

TYPES = [f"type{i}" for i in range(10)]
SKUS = [f"SKU{i}" for i in range(20)]
CHANNELS = ["web", "app", "store", "phone"]
TIERS = ["bronze", "silver", "gold"]
AT = datetime(2026, 6, 2, 10, 30, tzinfo=UTC)
EVENTS = 10_000


BROAD_PER_TYPE = 2  # in the selective workload: base-earn rules that apply to most events
PRODUCTS = [f"P{i:04d}" for i in range(2000)]


PAYING_PER_TYPE = 10  # in the payout workload: activities per event type, every one of them paying


def workload(n_activities: int, seed: int = 7, mix: str = "broad"):
    """``broad``: every activity's conditions are broad (payouts grow with the activities).
    ``selective``: 2 broad activities per event type; the rest each name products (the
    first condition: the event's product is one or a few of 2,000), as product, post and
    campaign rules do in real programs.
    ``payout``: 10 activities per event type that all match (``n_activities`` is ignored):
    fixed and per-unit rewards on amounts in cents, half of them for two of the three tiers
    (an ``audience``): what each paying activity costs, not what finding it costs."""
    rng = random.Random(seed)
    if mix == "payout":
        return _payout_workload(rng)
    activities = []
    for i in range(n_activities):
        leaves = []
        if mix == "selective" and i >= BROAD_PER_TYPE * len(TYPES):
            products = rng.sample(PRODUCTS, rng.choice([1, 1, 3]))
            leaves.append({"fact": "event.attributes.product", "operator": "==", "value": products[0]}
                          if len(products) == 1 else
                          {"fact": "event.attributes.product", "operator": "in", "value": products})
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["amount", "amount_between", "sku_in", "channel", "tier", "quantity"])
            if kind == "amount":
                leaves.append({"fact": "event.attributes.amount", "operator": rng.choice([">", ">=", "<", "<="]),
                               "value": rng.randint(5, 200)})
            elif kind == "amount_between":
                low = rng.randint(0, 150)
                leaves.append({"fact": "event.attributes.amount", "operator": "between",
                               "value": [low, low + rng.randint(10, 100)]})
            elif kind == "sku_in":
                leaves.append({"fact": "event.attributes.sku", "operator": "in", "value": rng.sample(SKUS, 5)})
            elif kind == "channel":
                leaves.append({"fact": "event.attributes.channel", "operator": rng.choice(["==", "!="]),
                               "value": rng.choice(CHANNELS)})
            elif kind == "tier":
                leaves.append({"fact": "member.tier", "operator": "==", "value": rng.choice(TIERS)})
            else:
                leaves.append({"fact": "event.attributes.quantity", "operator": ">=", "value": rng.randint(1, 5)})
        reward = {"points": rng.randint(5, 100)} if rng.random() < 0.6 else \
            {"per_unit": {"fact": "event.attributes.amount", "points": rng.randint(1, 3)}}
        event_type = TYPES[i % len(TYPES)] if mix == "selective" and i < BROAD_PER_TYPE * len(TYPES) \
            else rng.choice(TYPES)
        activities.append({"id": f"act{i:04d}", "name": f"activity {i}", "status": "active",
                           "trigger": {"event": event_type}, "conditions": {"all": leaves}, "reward": reward})
    events = []
    for _ in range(EVENTS):
        events.append(({"type": rng.choice(TYPES), "attributes": {
            "amount": rng.randint(0, 400) / 2, "sku": rng.choice(SKUS), "channel": rng.choice(CHANNELS),
            "quantity": rng.randint(1, 6), "product": rng.choice(PRODUCTS)}}, {"tier": rng.choice(TIERS)}))
    return activities, events


def _payout_workload(rng: random.Random):
    activities = []
    for i in range(PAYING_PER_TYPE * len(TYPES)):
        reward = {"points": rng.randint(5, 100)} if i % 2 else \
            {"per_unit": {"fact": "event.attributes.amount", "points": rng.randint(1, 3)}}
        activity = {"id": f"act{i:04d}", "name": f"activity {i}", "status": "active",
                    "trigger": {"event": TYPES[i % len(TYPES)]},
                    "conditions": {"all": [{"fact": "event.attributes.amount", "operator": ">=", "value": 0}]},
                    "reward": reward}
        if i % 4 < 2:
            activity["audience"] = {"tiers": rng.sample(TIERS, 2)}
        activities.append(activity)
    events = [({"type": rng.choice(TYPES), "attributes": {
        "amount": rng.randint(1, 40000) / 100, "sku": rng.choice(SKUS), "channel": rng.choice(CHANNELS),
        "quantity": rng.randint(1, 6), "product": rng.choice(PRODUCTS)}}, {"tier": rng.choice(TIERS)})
        for _ in range(EVENTS)]
    return activities, events


def conditions_of(activity) -> list[dict]:
    """The activity's conditions, its tier audience as one more (for the engines that have none)."""
    audience = activity.get("audience", {}).get("tiers")
    tier = [{"fact": "member.tier", "operator": "in", "value": audience}] if audience else []
    return activity["conditions"]["all"] + tier


def reference(activities, event, member) -> list[tuple[str, int]]:
    paid = []
    for a in activities:
        if a["trigger"]["event"] != event["type"] or \
                not rules_reference.holds({"all": conditions_of(a)}, event, member, {}):
            continue
        reward = a["reward"]
        points = reward["points"] if "points" in reward else \
            math.floor(event["attributes"]["amount"] * reward["per_unit"]["points"])
        if points > 0:
            paid.append((a["id"], points))
    return sorted(paid)


# -- punchcard ----------------------------------------------------------------------------------

def punchcard_engine(activities):
    compiled = [compile_activity({k: v for k, v in a.items() if k != "id"}, activity_id=a["id"], version=1,
                                 brand_id="b") for a in activities]
    ruleset = Ruleset(compiled)
    return lambda event, member: sorted((o.activity_id, o.points) for o in ruleset.evaluate(event, member, AT).outcomes)


# -- zen-engine ---------------------------------------------------------------------------------

def _zen_expression(leaf) -> str:
    fact = leaf["fact"].replace("event.", "", 1)
    value, op = leaf["value"], leaf["operator"]
    if op == "in":
        return f"{fact} in {json.dumps(value)}"
    if op == "between":
        return f"{fact} >= {value[0]} and {fact} <= {value[1]}"
    return f"{fact} {op} {json.dumps(value)}"


def zen_engine(activities):
    import zen

    graphs = {}
    for event_type in TYPES:
        rules = []
        for a in (a for a in activities if a["trigger"]["event"] == event_type):
            condition = " and ".join(f"({_zen_expression(leaf)})" for leaf in conditions_of(a))
            reward = a["reward"]
            points = str(reward["points"]) if "points" in reward else \
                f"floor(attributes.amount * {reward['per_unit']['points']})"
            rules.append({"_id": a["id"], "c": condition, "o1": json.dumps(a["id"]), "o2": points})
        graphs[event_type] = json.dumps({"nodes": [
            {"id": "in", "type": "inputNode", "name": "in", "position": {"x": 0, "y": 0}},
            {"id": "dt", "type": "decisionTableNode", "name": "activities", "position": {"x": 1, "y": 0},
             "content": {"hitPolicy": "collect", "inputs": [{"id": "c", "name": "conditions"}],
                         "outputs": [{"id": "o1", "name": "activity", "field": "activity"},
                                     {"id": "o2", "name": "points", "field": "points"}],
                         "rules": rules}},
            {"id": "out", "type": "outputNode", "name": "out", "position": {"x": 2, "y": 0}}],
            "edges": [{"id": "e1", "sourceId": "in", "targetId": "dt", "type": "edge"},
                      {"id": "e2", "sourceId": "dt", "targetId": "out", "type": "edge"}]})
    engine = zen.ZenEngine({"loader": lambda key: graphs[key]})

    def evaluate(event, member):
        result = engine.evaluate(event["type"], {**event, "member": member})["result"]
        return sorted((row["activity"], int(row["points"])) for row in result if int(row["points"]) > 0)
    return evaluate


# -- business-rules -----------------------------------------------------------------------------

def business_rules_engine(activities):
    from business_rules import run_all
    from business_rules.actions import BaseActions, rule_action
    from business_rules.fields import FIELD_NUMERIC, FIELD_TEXT
    from business_rules.variables import BaseVariables, numeric_rule_variable, string_rule_variable

    class Variables(BaseVariables):
        def __init__(self, event, member):
            self.event, self.member = event, member

        @numeric_rule_variable
        def amount(self):
            return self.event["attributes"]["amount"]

        @numeric_rule_variable
        def quantity(self):
            return self.event["attributes"]["quantity"]

        @string_rule_variable
        def sku(self):
            return self.event["attributes"]["sku"]

        @string_rule_variable
        def channel(self):
            return self.event["attributes"]["channel"]

        @string_rule_variable
        def product(self):
            return self.event["attributes"]["product"]

        @string_rule_variable
        def tier(self):
            return self.member["tier"]

    class Actions(BaseActions):
        def __init__(self, event, paid):
            self.event, self.paid = event, paid

        @rule_action(params={"activity": FIELD_TEXT, "points": FIELD_NUMERIC, "per_unit": FIELD_NUMERIC})
        def pay(self, activity, points, per_unit):
            value = points if points else math.floor(self.event["attributes"]["amount"] * per_unit)
            if value > 0:
                self.paid.append((activity, int(value)))

    names = {">": "greater_than", ">=": "greater_than_or_equal_to", "<": "less_than", "<=": "less_than_or_equal_to"}

    def conditions(leaf):
        name = leaf["fact"].rsplit(".", 1)[1]
        op, value = leaf["operator"], leaf["value"]
        if op == "between":
            return [{"name": name, "operator": "greater_than_or_equal_to", "value": value[0]},
                    {"name": name, "operator": "less_than_or_equal_to", "value": value[1]}]
        if op == "in":
            return [{"any": [{"name": name, "operator": "equal_to", "value": v} for v in value]}]
        if op == "==":
            return [{"name": name, "operator": "equal_to", "value": value}]
        if op == "!=":  # business-rules has no "not": the workload's != is on channel, a closed set
            return [{"any": [{"name": name, "operator": "equal_to", "value": v} for v in CHANNELS if v != value]}]
        return [{"name": name, "operator": names[op], "value": value}]

    by_type = {}
    for a in activities:
        reward = a["reward"]
        params = {"activity": a["id"], "points": reward.get("points", 0),
                  "per_unit": reward.get("per_unit", {}).get("points", 0)}
        rule = {"conditions": {"all": [c for leaf in conditions_of(a) for c in conditions(leaf)]},
                "actions": [{"name": "pay", "params": params}]}
        by_type.setdefault(a["trigger"]["event"], []).append(rule)

    def evaluate(event, member):
        paid = []
        run_all(by_type.get(event["type"], []), Variables(event, member), Actions(event, paid),
                stop_on_first_trigger=False)
        return sorted(paid)
    return evaluate


ENGINES = {"punchcard": punchcard_engine, "zen-engine": zen_engine, "business-rules": business_rules_engine}


def measure(evaluate, events, repeat: int = 3) -> float:
    """Events per second of CPU on one core (best of ``repeat`` passes)."""
    best = math.inf
    for _ in range(repeat):
        start = time.process_time()
        for event, member in events:
            evaluate(event, member)
        best = min(best, time.process_time() - start)
    return len(events) / best


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000]
    print(f"rules engines, {EVENTS:,} events, 10 event types, collect semantics, python {sys.version.split()[0]}")
    for mix in ("selective", "broad"):
        run(mix, sizes)
    run("payout", [PAYING_PER_TYPE * len(TYPES)])


def run(mix: str, sizes: list[int]) -> None:
    print(f"\n=== {mix} workload ===")
    rates: dict[tuple[str, int], float] = {}
    for size in sizes:
        activities, events = workload(size, mix=mix)
        expected = [reference(activities, e, m) for e, m in events]
        matches = sum(len(x) for x in expected)
        print(f"{size} activities: {matches:,} payouts over {EVENTS:,} events (checked against the reference)")
        for name, build in ENGINES.items():
            evaluate = build(activities)
            wrong = sum(1 for (e, m), want in zip(events, expected, strict=True) if evaluate(e, m) != want)
            if wrong:
                raise SystemExit(f"{name}: {wrong} events disagree with the reference")
            sample = events if name != "business-rules" else events[:2000]
            rates[(name, size)] = rate = measure(evaluate, sample)
            print(f"  {name:15} {rate:12,.0f} events/s   {1e6 / rate:8.1f} µs/event")
        ours, zen = rates[("punchcard", size)], rates[("zen-engine", size)]
        print(f"  punchcard / zen-engine throughput: {ours / zen:.2f}x (goal >= 3x)")
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for name in ENGINES:
            cost = rates[(name, small)] / rates[(name, large)]
            print(f"per-event cost {large} vs {small} activities, {name}: {cost:.2f}x"
                  + ("   (goal <= 1.5x)" if name == "punchcard" else ""))


if __name__ == "__main__":
    main()
