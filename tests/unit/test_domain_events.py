"""The domain-event catalogue: every event survives its wire form, its schema refuses what is not
it, an unknown type or version is poison with its reason, and the consumer table, the
composition root and the catalogue name the same consumers and types."""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from chalicelib import bootstrap, resources
from chalicelib.bus import catalogue
from chalicelib.bus.publisher import MemoryPublisher, entry
from chalicelib.jobs import PoisonMessage
from tests.bus import envelope

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)


def sample(hint, name="x"):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in args if a is not type(None)), name)
    if origin is tuple:
        return (sample(args[0], name), sample(args[0], name + "2"))
    if isinstance(hint, type) and issubclass(hint, catalogue.Record):
        hints = typing.get_type_hints(hint)
        return hint(**{field: sample(hints[field], field) for field in hint.FIELDS})
    return {str: f"{name}-value", int: 7, datetime: AT, date: date(2027, 1, 31), bool: True}[hint]


EVERY = [sample(cls) for cls in catalogue.CATALOGUE.values()]


@pytest.mark.parametrize("event", EVERY, ids=lambda e: e.TYPE)
def test_every_event_survives_its_wire_form_and_the_envelope_eventbridge_delivers(event):
    wire = json.loads(json.dumps(event.to_json()))
    assert (wire["type"], wire["version"]) == (event.TYPE, event.VERSION)
    assert catalogue.from_json(wire) == event
    assert catalogue.parse(envelope(event)) == event
    sent = entry(event)
    assert (sent["DetailType"], sent["Source"]) == (event.TYPE, resources.DOMAIN_BUS.source)
    assert json.loads(sent["Detail"]) == wire


def test_an_unknown_type_or_version_is_poison_with_its_reason():
    wire = EVERY[0].to_json()
    with pytest.raises(PoisonMessage, match=r"unknown domain event type 'points\.stolen'"):
        catalogue.from_json({**wire, "type": "points.stolen"})
    with pytest.raises(PoisonMessage, match=r"version 2 of .* is unknown \(known: \[1\]\)"):
        catalogue.from_json({**wire, "version": 2})
    with pytest.raises(PoisonMessage, match="JSON object"):
        catalogue.from_json(["points.earned"])


def earned_wire(**changes):
    return {**sample(catalogue.PointsEarned).to_json(), **changes}


@pytest.mark.parametrize(("changes", "why"), [
    ({"points": "40"}, "points"),
    ({"points": True}, "points"),
    ({"points": 1.5}, "points"),
    ({"member_id": ""}, "member_id"),
    ({"at": "yesterday"}, "at"),
    ({"activities": [{"activity_id": "a"}]}, "points"),
    ({"channel": 5}, "channel"),
])
def test_a_body_that_does_not_match_its_schema_is_poison(changes, why):
    with pytest.raises(PoisonMessage, match=why):
        catalogue.from_json(earned_wire(**changes))


def test_a_missing_field_is_poison_and_an_unknown_one_is_ignored():
    wire = earned_wire()
    del wire["brand_id"]
    with pytest.raises(PoisonMessage, match="brand_id"):
        catalogue.from_json(wire)
    assert catalogue.from_json(earned_wire(added_later="ok")) == sample(catalogue.PointsEarned)


@pytest.mark.parametrize(("body", "why"), [
    ("not json", "not JSON"),
    ('{"type": "points.earned"}', "not an EventBridge event"),
    (envelope(sample(catalogue.PointsEarned)).replace('"detail-type": "points.earned"',
                                                    '"detail-type": "points.reversed"'), "is not the event's type"),
])
def test_an_sqs_body_that_is_not_an_eventbridge_envelope_is_poison(body, why):
    with pytest.raises(PoisonMessage, match=why):
        catalogue.parse(body)


def test_the_consumer_table_and_the_composition_root_name_the_same_consumers_and_types():
    specs = {spec.name: spec for spec in resources.CONSUMERS}
    assert set(specs) == set(bootstrap.CONSUMERS)
    for name, spec in specs.items():
        consumer = bootstrap.CONSUMERS[name]()
        assert consumer.name == name
        assert consumer.types == frozenset(spec.types), name  # the rule delivers exactly what it handles
        assert set(spec.types) <= catalogue.TYPES
        assert spec.event_pattern() == {"source": ["punchcard"], "detail-type": list(spec.types)}
    assert len({spec.queue.logical_name for spec in specs.values()}) == len(specs)  # a queue each


def test_the_catalogue_document_is_current():
    assert (ROOT / "docs" / "events.md").read_text() == catalogue.markdown() + "\n"


def test_the_memory_publisher_keeps_what_was_published_in_order():
    memory = MemoryPublisher()
    assert memory.publish_all({"a": EVERY[0], "b": EVERY[1]}) == {}
    assert memory.published == [EVERY[0], EVERY[1]]


def test_events_are_immutable_values_with_keyword_fields():
    earned = sample(catalogue.PointsEarned)
    assert earned == sample(catalogue.PointsEarned)
    assert hash(earned) == hash(sample(catalogue.PointsEarned))
    assert earned != sample(catalogue.PointsReversed)
    with pytest.raises(AttributeError, match="immutable"):
        earned.points = 1
    with pytest.raises(TypeError, match="needs 'points'"):
        catalogue.PointsEarned(id="x", at=AT, member_id="m", brand_id="b", event_id="e")
    with pytest.raises(TypeError, match="no field 'pints'"):
        catalogue.PointsEarned(id="x", at=AT, member_id="m", brand_id="b", event_id="e", points=1, pints=2)
    assert catalogue.PointsEarned.FIELDS == ("id", "at", "member_id", "brand_id", "event_id", "channel", "points",
                                             "activities")
    assert "points=7" in repr(earned)
