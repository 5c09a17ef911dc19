"""A plain interpreter of activity conditions: the reference the compiled engine is checked
against (property tests, bench/rules.py). Slow on purpose: no compilation, no shortcuts."""

from __future__ import annotations

from decimal import Decimal

MISSING = object()


def fact_value(fact: str, event: dict, member: dict, time: dict):
    root, _, rest = fact.partition(".")
    value = {"event": {**event, "attributes": event.get("attributes") or {}}, "member": member, "time": time}[root]
    for step in rest.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return MISSING
    return value


def is_number(x) -> bool:
    return isinstance(x, (int, float, Decimal)) and not isinstance(x, bool)


def same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def holds(node: dict, event: dict, member: dict, time: dict) -> bool:
    if "all" in node:
        return all(holds(n, event, member, time) for n in node["all"])
    if "any" in node:
        return any(holds(n, event, member, time) for n in node["any"])
    if "not" in node:
        return not holds(node["not"], event, member, time)
    v, op, want = fact_value(node["fact"], event, member, time), node["operator"], node.get("value")
    if op == "exists":
        return (v is not MISSING) == want
    if v is MISSING:
        return False
    comparable = (is_number(v) and is_number(want)) or (isinstance(v, str) and isinstance(want, str))
    if op == "==":
        return same(v, want)
    if op == "!=":
        return not same(v, want)
    if op in (">", ">=", "<", "<="):
        return comparable and {">": v > want if comparable else 0, ">=": v >= want if comparable else 0,
                               "<": v < want if comparable else 0, "<=": v <= want if comparable else 0}[op]
    if op == "between":
        low, high = want
        ok = (is_number(v) and is_number(low)) or (isinstance(v, str) and isinstance(low, str))
        return ok and low <= v <= high
    if op == "in":
        return any(same(v, w) for w in want) and not isinstance(v, (list, dict))
    if op == "not_in":
        return not isinstance(v, (list, dict)) and not any(same(v, w) for w in want)
    if op == "contains":
        if isinstance(v, list):
            return any(same(item, want) for item in v)
        return isinstance(v, str) and isinstance(want, str) and want in v
    if op == "starts_with":
        return isinstance(v, str) and v.startswith(want)
    raise ValueError(op)
