"""The domain events: what happened, as typed facts every consumer reads the same way.

Each event is an immutable record (:class:`Record`: keyword-only fields declared by annotation,
as a frozen dataclass but without the ~1 ms per class a dataclass costs at import, which every
API cold start would pay) with a ``TYPE`` and a ``VERSION``; on the wire (the
``detail`` of an EventBridge event, see :mod:`chalicelib.bus.publisher`) it is one flat JSON
object: ``{"type", "version", "id", "at", <its fields>}``. ``id`` is stable across retries of
what produced it (consumers dedupe on it: at least once in, exactly once applied); ``at`` is
when it happened (a redelivery counts on the same day).

The JSON schema of each event is derived from its fields (:func:`schema`), compiled once, and
checked by :func:`parse` before a consumer sees the event: an unknown type or version, or a
body that does not match, is poison with its reason. Fields may be added to a version
(consumers ignore what they do not know); removing or changing one is a new version.
``docs/events.md`` is the catalogue, generated from these classes and checked by a test.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from chalicelib.jobs import PoisonMessage
from chalicelib.resources import CONSUMERS


class Record:
    """An immutable value with keyword-only fields: those its classes annotate (``ClassVar``
    aside), in declaration order, base classes first; a field with a class-level value has it
    as its default. Equal when of the same class with equal fields; hashable."""

    FIELDS: ClassVar[tuple[str, ...]] = ()
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [name for name, hint in cls.__dict__.get("__annotations__", {}).items()  # noqa: RUF063 (this class's own, as written)
               if not str(hint).startswith("ClassVar")]
        defaults = dict(cls.DEFAULTS)
        defaults.update({name: cls.__dict__[name] for name in own if name in cls.__dict__})
        cls.FIELDS = (*cls.FIELDS, *(name for name in own if name not in cls.FIELDS))
        cls.DEFAULTS = defaults

    def __init__(self, **values: Any) -> None:
        unknown = set(values).difference(self.FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        for name in self.FIELDS:
            if name in values:
                value = values[name]
            elif name in self.DEFAULTS:
                value = self.DEFAULTS[name]
            else:
                raise TypeError(f"{type(self).__name__} needs {name!r}")
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values() == self._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.FIELDS)})"


class DomainEvent(Record):
    """What every domain event carries."""

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    DESCRIPTION: ClassVar[str] = ""

    id: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """The wire form: type, version, then the fields (datetimes as ISO 8601)."""
        return {"type": self.TYPE, "version": self.VERSION, **_plain(self)}


class ActivityPoints(Record):
    """Points one activity paid for an event."""

    activity_id: str
    points: int


class MemberEvent(DomainEvent):
    member_id: str


class EventOutcome(MemberEvent):
    brand_id: str
    event_id: str
    channel: str | None = None


class PointsEarned(EventOutcome):
    TYPE = "points.earned"
    DESCRIPTION = "An event earned the member points (the sum of what its activities paid)."

    points: int
    activities: tuple[ActivityPoints, ...] = ()


class EventProcessed(EventOutcome):
    TYPE = "event.processed"
    DESCRIPTION = ("An event settled without earning: `processed` (no activity paid) or `rejected` "
                   "(it can never succeed; `reason` says why).")

    status: str
    reason: str | None = None


class EventFailed(EventOutcome):
    TYPE = "event.failed"
    DESCRIPTION = "An event's last retry failed; it waits in the events dead-letter queue for a redrive."

    reason: str


class PointsReversed(MemberEvent):
    TYPE = "points.reversed"
    DESCRIPTION = "Points an event earned were taken back, in whole or in part (a return, a refund)."

    brand_id: str
    event_id: str
    points: int


class PointsAdjusted(MemberEvent):
    TYPE = "points.adjusted"
    DESCRIPTION = "A brand (or an admin, `brand_id` null) credited (`points` > 0) or debited (< 0) the member by hand."

    brand_id: str | None
    points: int
    reason: str


class RedemptionEvent(MemberEvent):
    brand_id: str
    redemption_id: str
    reward_id: str
    reward_name: str
    points: int
    fulfilment: str | None = None
    voucher_code: str | None = None


class RedemptionFulfilled(RedemptionEvent):
    TYPE = "redemption.fulfilled"
    DESCRIPTION = "A redemption was paid for: the points are spent and the reward is the member's."

    transfer_id: str


class RedemptionCancelled(RedemptionEvent):
    TYPE = "redemption.cancelled"
    DESCRIPTION = "A fulfilled redemption was cancelled and its points returned."

    reversal_id: str


class RewardLowStock(DomainEvent):
    TYPE = "reward.low_stock"
    DESCRIPTION = "What is left of a reward fell to its low-stock mark (once per restock)."

    brand_id: str
    reward_id: str
    reward_name: str
    stock_left: int


class TierEvent(MemberEvent):
    tier: str | None
    previous_tier: str | None


class TierUpgraded(TierEvent):
    TYPE = "tier.upgraded"
    DESCRIPTION = "The member reached a higher tier."


class TierWarned(TierEvent):
    TYPE = "tier.warned"
    DESCRIPTION = "The member will fall to a lower tier on `downgrade_at` unless they earn enough before."

    downgrade_at: date


class TierDowngraded(TierEvent):
    TYPE = "tier.downgraded"
    DESCRIPTION = "The member fell to a lower tier."


CATALOGUE: dict[tuple[str, int], type[DomainEvent]] = {
    (cls.TYPE, cls.VERSION): cls
    for cls in (PointsEarned, EventProcessed, EventFailed, PointsReversed, PointsAdjusted, RedemptionFulfilled,
                RedemptionCancelled, RewardLowStock, TierUpgraded, TierWarned, TierDowngraded)
}
TYPES = frozenset(kind for kind, _ in CATALOGUE)


# -- the wire form --------------------------------------------------------------------------------

def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Record)


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return {name: _plain(getattr(value, name)) for name in value.FIELDS}
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _field_schema(hint: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_field_schema(a) for a in args]}
    if origin is tuple:
        return {"type": "array", "items": _field_schema(args[0])}
    if hint is type(None):
        return {"type": "null"}
    if hint is str:
        return {"type": "string", "minLength": 1}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is datetime:
        return {"type": "string", "format": "date-time"}
    if hint is date:
        return {"type": "string", "format": "date"}
    if _is_record(hint):
        return _object_schema(hint)
    raise TypeError(f"no JSON schema for {hint!r}")


def _object_schema(cls: type[Record]) -> dict[str, Any]:
    hints = _hints(cls)
    return {"type": "object", "required": [name for name in cls.FIELDS if name not in cls.DEFAULTS],
            "properties": {name: _field_schema(hints[name]) for name in cls.FIELDS}}


def schema(cls: type[DomainEvent]) -> dict[str, Any]:
    """The JSON schema of one event's wire form (extra properties allowed: see the module)."""
    body = _object_schema(cls)
    body["required"] = ["type", "version", *body["required"]]
    body["properties"] = {"type": {"const": cls.TYPE}, "version": {"const": cls.VERSION}, **body["properties"]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": cls.__name__,
            "description": cls.DESCRIPTION, **body}


@functools.cache
def _checker(cls: type[DomainEvent]) -> Callable[[Any], None]:
    """The compiled schema of ``cls`` (once per container; only consumers need it)."""
    import fastjsonschema

    validate = fastjsonschema.compile({k: v for k, v in schema(cls).items() if k != "$schema"}, use_formats=True)

    def check(data: Any) -> None:
        try:
            validate(data)
        except fastjsonschema.JsonSchemaException as e:
            raise PoisonMessage(f"{cls.TYPE} v{cls.VERSION} does not match its schema: {e}"[:1000]) from e

    return check


def _build(cls: type[Record], data: dict[str, Any]) -> Any:
    hints = _hints(cls)
    return cls(**{name: _value(hints[name], data[name]) for name in cls.FIELDS if name in data})


def _value(hint: Any, raw: Any) -> Any:
    if raw is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _value(next(a for a in args if a is not type(None)), raw)
    if origin is tuple:
        return tuple(_value(args[0], v) for v in raw)
    if hint is datetime:
        at = datetime.fromisoformat(raw)
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    if hint is date:
        return date.fromisoformat(raw)
    if _is_record(hint):
        return _build(hint, raw)
    return raw


def from_json(data: Any) -> DomainEvent:
    """The typed event of a wire form; :class:`PoisonMessage` (with why) if it is not one."""
    if not isinstance(data, dict):
        raise PoisonMessage("a domain event is a JSON object")
    cls = CATALOGUE.get((data.get("type"), data.get("version")))
    if cls is None:
        known = sorted(v for (t, v) in CATALOGUE if t == data.get("type"))
        why = f"version {data.get('version')!r} of {data.get('type')!r} is unknown (known: {known})" if known \
            else f"unknown domain event type {str(data.get('type'))[:100]!r}"
        raise PoisonMessage(why)
    _checker(cls)(data)
    try:
        return _build(cls, data)
    except (ValueError, TypeError) as e:
        raise PoisonMessage(f"{cls.TYPE} v{cls.VERSION} does not match its schema: {e}"[:1000]) from e


def parse(body: str) -> DomainEvent:
    """The domain event in an SQS body: EventBridge's envelope with the event as ``detail``."""
    try:
        envelope = json.loads(body)
    except ValueError as e:
        raise PoisonMessage(f"body is not JSON: {e}") from e
    if not isinstance(envelope, dict) or "detail" not in envelope:
        raise PoisonMessage(f"not an EventBridge event: {body[:200]}")
    event = from_json(envelope["detail"])
    if envelope.get("detail-type") not in (None, event.TYPE):
        raise PoisonMessage(f"detail-type {envelope.get('detail-type')!r} is not the event's type {event.TYPE!r}")
    return event


def markdown() -> str:
    """The catalogue as docs/events.md shows it (``python -m chalicelib.bus.catalogue``; a test
    checks the file is current)."""
    lines = ["# Domain events", "",
             "Generated from `chalicelib/bus/catalogue.py` (`python -m chalicelib.bus.catalogue > docs/events.md`);",
             "a test fails when this file is stale. Every event is published on the tenant's EventBridge bus",
             "(`source` `punchcard`, `detail-type` its type, `detail` the JSON object below) and delivered to",
             "the queue of each consumer whose rule names its type (`chalicelib/resources.py`, `CONSUMERS`).",
             "",
             "Every event has `type`, `version`, `id` (stable across retries: consumers dedupe on it) and",
             "`at` (when it happened, ISO 8601). Fields may be added within a version; consumers ignore",
             "fields they do not know. A field removed or changed is a new version.", ""]
    consumers = _consumers_by_type()
    for (kind, version), cls in sorted(CATALOGUE.items()):
        lines += [f"## `{kind}` (version {version})", "", cls.DESCRIPTION, "",
                  f"Consumed by: {', '.join(consumers.get(kind, [])) or 'nobody yet'}.", "",
                  "| field | type | required |", "|---|---|---|"]
        body = schema(cls)
        for name, prop in body["properties"].items():
            if name in ("type", "version"):
                continue
            lines.append(f"| `{name}` | {_describe(prop)} | {'yes' if name in body['required'] else 'no'} |")
        lines.append("")
    return "\n".join(lines)


def _consumers_by_type() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for consumer in CONSUMERS:
        for kind in consumer.types:
            found.setdefault(kind, []).append(consumer.name)
    return found


def _describe(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " or ".join(_describe(p) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"array of {_describe(prop['items'])}"
    if prop.get("type") == "object":
        return "object (" + ", ".join(f"`{k}`: {_describe(v)}" for k, v in prop["properties"].items()) + ")"
    return prop.get("format", prop.get("type", "?"))


if __name__ == "__main__":
    import sys

    from chalicelib.bus import catalogue  # the module's own classes, not this __main__ copy's

    sys.stdout.write(catalogue.markdown() + "\n")
