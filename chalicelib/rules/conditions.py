"""Facts and conditions, compiled once into plain Python closures.

A condition is a tree: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` or a leaf
``{"fact": "event.attributes.amount", "operator": ">=", "value": 10}``. Compiling resolves
each fact path to a getter and each operator to a function, and checks that the value suits
the operator; errors name the offending field with a JSON pointer. Evaluating a compiled
tree is then a few Python calls per leaf: no parsing, no dispatch on strings.

Type rules (so a rule never crashes on odd input, and never matches by accident): a missing
fact fails every operator except ``exists: false``; ordering operators (``> >= < <=
between``) compare numbers with numbers and strings with strings (ISO dates order as
strings) and fail otherwise; booleans are not numbers. There are no regular expressions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chalicelib import errors

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

MAX_DEPTH = 8
MAX_LEAVES = 64
MAX_IN_VALUES = 1000

Getter = Callable[[Any], Any]
Predicate = Callable[[Any], bool]

# Facts an activity may name. ``prefix.`` entries take any path below them.
FACTS = {
    "event.type", "event.channel", "event.occurred_at", "event.attributes.",
    "member.tier", "member.segments", "member.days_since_joining", "member.lifetime_earned",
    "member.profile.", "member.counters.", "member.totals.", "member.streaks.",
    "time.day_of_week", "time.hour", "time.local_date", "time.local_time",
}
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


def invalid(pointer: str, message: str, rule: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(f"{pointer}: {message}", details={"pointer": pointer, "rule": rule})


def known_fact(fact: str) -> bool:
    if not isinstance(fact, str) or len(fact) > 200 or not _PATH.fullmatch(fact):
        return False
    return fact in FACTS or any(fact.startswith(p) and len(fact) > len(p) for p in FACTS if p.endswith("."))


@functools.cache
def getter(fact: str) -> Getter:
    """``fact`` → a function of the evaluation context (see :class:`chalicelib.rules.engine.Facts`).
    One function per fact, whichever activity asks: an event's facts cache what they derive
    from a fact by its getter (:meth:`chalicelib.rules.engine.Facts.number`)."""
    root, _, rest = fact.partition(".")
    steps = rest.split(".")
    source = {"event": "event", "member": "member", "time": "time"}[root]

    if len(steps) == 1:
        key = steps[0]
        if source == "member":
            return lambda facts: facts.member.get(key, MISSING)
        if source == "event":
            return lambda facts: facts.event.get(key, MISSING)
        return lambda facts: facts.time.get(key, MISSING)
    if source == "event" and len(steps) == 2 and steps[0] == "attributes":  # the common case, inlined
        key = steps[1]
        return lambda facts: facts.event["attributes"].get(key, MISSING)

    def walk(facts):
        value = getattr(facts, source)
        for step in steps:
            if isinstance(value, dict):
                value = value.get(step, MISSING)
            elif isinstance(value, list) and step.isdigit():
                value = value[int(step)] if int(step) < len(value) else MISSING
            else:
                return MISSING
            if value is MISSING:
                return MISSING
        return value
    return walk


NUMBERS = frozenset({int, float, Decimal})  # by exact type: bool is not a number here


def _number(x: Any) -> bool:
    return type(x) in NUMBERS


def _ordered(a: Any, b: Any) -> bool:
    return (_number(a) and _number(b)) or (isinstance(a, str) and isinstance(b, str))


def _scalar(x: Any) -> bool:
    return x is None or isinstance(x, (str, bool)) or _number(x)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _leaf(node: dict, pointer: str) -> Predicate:
    fact, operator, value = node.get("fact"), node.get("operator"), node.get("value", MISSING)
    if not known_fact(fact):
        raise invalid(f"{pointer}/fact", f"unknown fact {fact!r}", "fact")
    get = getter(fact)
    where = f"{pointer}/value"

    if operator in ("==", "!="):
        if not _scalar(value):
            raise invalid(where, f"{operator} compares with a string, number, boolean or null", "value")
        if operator == "==":
            return lambda f: _equal(get(f), value)
        return lambda f: (v := get(f)) is not MISSING and not _equal(v, value)
    if operator in (">", ">=", "<", "<="):
        if not (_number(value) or isinstance(value, str)):
            raise invalid(where, f"{operator} compares with a number or a string", "value")
        kinds = NUMBERS if _number(value) else frozenset({str})
        if operator == ">":
            return lambda f: type(v := get(f)) in kinds and v > value
        if operator == ">=":
            return lambda f: type(v := get(f)) in kinds and v >= value
        if operator == "<":
            return lambda f: type(v := get(f)) in kinds and v < value
        return lambda f: type(v := get(f)) in kinds and v <= value
    if operator == "between":
        if not (isinstance(value, list) and len(value) == 2 and _ordered(value[0], value[1])
                and value[0] <= value[1]):
            raise invalid(where, "between takes [low, high]: two numbers or two strings, low <= high", "value")
        low, high = value
        kinds = NUMBERS if _number(low) else frozenset({str})
        return lambda f: type(v := get(f)) in kinds and low <= v <= high
    if operator in ("in", "not_in"):
        if not (isinstance(value, list) and 0 < len(value) <= MAX_IN_VALUES and all(map(_scalar, value))):
            raise invalid(where, f"{operator} takes a list of 1 to {MAX_IN_VALUES} strings or numbers", "value")
        members = frozenset(v for v in value if not isinstance(v, bool))
        flags = [v for v in value if isinstance(v, bool)]

        def inside(v):
            return any(_equal(v, flag) for flag in flags) if isinstance(v, bool) else \
                (v in members if isinstance(v, (str, int, float, Decimal)) or v is None else False)
        if operator == "in":
            return lambda f: (v := get(f)) is not MISSING and inside(v)
        return lambda f: (v := get(f)) is not MISSING and _scalar(v) and not inside(v)
    if operator == "contains":
        if not _scalar(value) or value is None:
            raise invalid(where, "contains looks for a string or number", "value")

        def contains(f):
            v = get(f)
            if isinstance(v, list):
                return any(_equal(item, value) for item in v)
            return isinstance(v, str) and isinstance(value, str) and value in v
        return contains
    if operator == "starts_with":
        if not isinstance(value, str) or not value:
            raise invalid(where, "starts_with takes a non-empty string", "value")
        return lambda f: isinstance(v := get(f), str) and v.startswith(value)
    if operator == "exists":
        if not isinstance(value, bool):
            raise invalid(where, "exists takes true or false", "value")
        return (lambda f: get(f) is not MISSING) if value else (lambda f: get(f) is MISSING)
    raise invalid(f"{pointer}/operator", f"unknown operator {operator!r}", "operator")


def compile_condition(node: Any, pointer: str = "/conditions") -> Predicate:
    """A condition tree → a predicate over the evaluation context; errors carry pointers."""
    leaves = [0]

    def build(node: Any, pointer: str, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise invalid(pointer, f"conditions nest at most {MAX_DEPTH} deep", "maxDepth")
        if not isinstance(node, dict):
            raise invalid(pointer, "a condition is an object", "type")
        kinds = [k for k in ("all", "any", "not", "fact") if k in node]
        if len(kinds) != 1:
            raise invalid(pointer, "a condition has exactly one of all, any, not, fact", "oneOf")
        kind = kinds[0]
        if kind == "fact":
            leaves[0] += 1
            if leaves[0] > MAX_LEAVES:
                raise invalid(pointer, f"at most {MAX_LEAVES} conditions per activity", "maxLeaves")
            return _leaf(node, pointer)
        if kind == "not":
            inner = build(node["not"], f"{pointer}/not", depth + 1)
            return lambda f: not inner(f)
        children = node[kind]
        if not isinstance(children, list) or not children:
            raise invalid(f"{pointer}/{kind}", f"{kind} takes a non-empty list", "minItems")
        parts = tuple(build(child, f"{pointer}/{kind}/{i}", depth + 1) for i, child in enumerate(children))
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:  # the usual sizes, without a generator per call
            a, b = parts
            return (lambda f: a(f) and b(f)) if kind == "all" else (lambda f: a(f) or b(f))
        if len(parts) == 3:
            a, b, c = parts
            return (lambda f: a(f) and b(f) and c(f)) if kind == "all" else (lambda f: a(f) or b(f) or c(f))
        if kind == "all":
            return lambda f: all(p(f) for p in parts)
        return lambda f: any(p(f) for p in parts)

    return build(node, pointer, 1)


def facts_of(node: Any) -> set[str]:
    """Every fact a condition tree names."""
    if not isinstance(node, dict):
        return set()
    if "fact" in node:
        return {node["fact"]}
    children = node.get("all") or node.get("any") or ([node["not"]] if "not" in node else [])
    return set().union(*(facts_of(child) for child in children)) if children else set()


def necessary_values(node: Any) -> tuple[str, tuple] | None:
    """A ``(fact, values)`` the condition cannot hold without: a top-level ``==`` or ``in``
    on strings or numbers (not booleans, not time facts). Lets a ruleset index activities by
    the values an event must carry, instead of trying each."""
    if not isinstance(node, dict):
        return None
    for leaf in node["all"] if isinstance(node.get("all"), list) else [node]:
        if not isinstance(leaf, dict) or "fact" not in leaf or str(leaf["fact"]).startswith("time."):
            continue
        operator, value = leaf.get("operator"), leaf.get("value")
        if operator == "==" and type(value) in (str, int, float):
            return leaf["fact"], (value,)
        if operator == "in" and isinstance(value, list) and value and all(type(v) in (str, int, float) for v in value):
            return leaf["fact"], tuple(value)
    return None
