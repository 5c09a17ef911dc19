"""Activities: brands manage their earning rules and simulate events; members browse them."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint, Response

from chalicelib import bootstrap, contract, errors
from chalicelib.api import views
from chalicelib.api.http import json_body, query, route
from chalicelib.api.validation import validate
from chalicelib.members import service as members
from chalicelib.members import store as member_store

bp = Blueprint(__name__)


def _service():
    """The activities service, from the composition root on first use: it brings the rules
    engine, which requests that never touch activities skip."""
    return bootstrap.activities()

STATUSES = ("draft", "active", "paused", "archived")


def _query(name: str, allowed: tuple[str, ...]) -> str | None:
    value = query(bp.current_request, "channel", "status").get(name)
    if value is not None and value not in allowed:
        raise errors.BadRequest(f"{name} is one of: {', '.join(allowed)}.", code="invalid_parameter",
                                details={"parameter": name, "allowed": list(allowed)})
    return value


@route(bp, "/v1/activities", methods=("POST",), roles=("brand",))
def create_activity(principal):
    definition = validate("ActivityInput", json_body(bp.current_request))
    head = _service().create(principal.brand_id, definition, datetime.now(UTC))
    return Response(status_code=201, body=views.activity(head))


@route(bp, "/v1/activities", roles=("brand", "member"))
def list_activities(principal):
    channel, status = _query("channel", contract.channels()), _query("status", STATUSES)
    if principal.role == "brand":
        heads = _service().listed(principal.brand_id, channel=channel, status=status)
        return {"items": [views.activity(h) for h in heads], "next_cursor": None}
    heads, subjects, limits = [], {}, bootstrap.limits()
    for enrolment in member_store.enrolments(principal.member_id):
        listed = _service().listed(enrolment.brand_id, channel=channel, status="active")
        compiled = {a.id: a for a in _service().rulesets.get(enrolment.brand_id).activities} if listed else {}
        for head in listed:
            activity = compiled.get(head.activity_id)
            if activity is not None and any(limit.scope == "member" for limit in activity.limits):
                subjects[head.activity_id] = limits.Subject.of(activity)
        heads += listed
    now = datetime.now(UTC)
    keys = [key for subject in subjects.values() for key in limits.member_keys(subject, principal.member_id)]
    states = bootstrap.decisions().read_guards(keys) if keys else {}
    items = []
    for head in heads:
        subject = subjects.get(head.activity_id)
        left = limits.remaining(subject, principal.member_id, now, states) if subject else []
        items.append({**views.activity_for_members(head), "remaining": left})
    return {"items": items, "next_cursor": None}


@route(bp, "/v1/activities/simulate", methods=("POST",), roles=("brand",))
def simulate_activity(principal):
    body = validate("ActivitySimulation", json_body(bp.current_request))
    now = datetime.now(UTC)
    member, stats = {}, None
    event = body["event"]
    at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")) if event.get("occurred_at") else now
    if body.get("member_id"):
        members.enrolled_profile(body["member_id"], principal.brand_id)
        member = bootstrap.facts().member_facts(body["member_id"], now)
        if member:
            counted, stats = bootstrap.facts().counter_facts(principal.brand_id, body["member_id"], event, at)
            member.update(counted)
    member = {**member, **body.get("member", {})}
    if "tier" in body.get("member", {}):  # a tier to try: its program-wide multiplier comes with it
        tier = bootstrap.tiers().program().get(member["tier"])
        member["tier_multiplier"] = tier.multiplier if tier else None
    try:
        result = _service().simulate(principal.brand_id, event, member, at, body.get("activity"), stats)
    except errors.ValidationFailed as e:  # the draft's pointers, relative to this body
        pointer = "/activity" + e.details.get("pointer", "")
        raise errors.ValidationFailed(e.message.replace(e.details.get("pointer", ""), pointer, 1),
                                      details={**e.details, "pointer": pointer}) from None
    return views.simulation(result, at)


@route(bp, "/v1/activities/templates", roles=("brand",))
def list_templates(principal):
    return {"items": [views.template(t) for t in bootstrap.templates().TEMPLATES.values()], "next_cursor": None}


@route(bp, "/v1/activities/templates/{template_id}", methods=("POST",), roles=("brand",))
def use_template(template_id, principal):
    template = bootstrap.templates().TEMPLATES.get(template_id)
    if template is None:
        raise errors.NotFound("No such template.", details={"template_id": template_id})
    body = validate("TemplateUse", json_body(bp.current_request))
    rendered = template.render(body.get("parameters"))
    for definition in rendered:  # every activity checked before any is stored
        validate("ActivityInput", definition)
    now = datetime.now(UTC)
    heads = [_service().create(principal.brand_id, definition, now) for definition in rendered]
    return Response(status_code=201, body={"items": [views.activity(h) for h in heads], "next_cursor": None})


@route(bp, "/v1/activities/{activity_id}", roles=("brand",))
def get_activity(activity_id, principal):
    return views.activity(_service().get(principal.brand_id, activity_id))


@route(bp, "/v1/activities/{activity_id}", methods=("PUT",), roles=("brand",))
def update_activity(activity_id, principal):
    _service().get(principal.brand_id, activity_id)  # 404 before any 400: ids are never probed
    definition = validate("ActivityInput", json_body(bp.current_request))
    return views.activity(_service().update(principal.brand_id, activity_id, definition, datetime.now(UTC)))


@route(bp, "/v1/activities/{activity_id}", methods=("DELETE",), roles=("brand",))
def archive_activity(activity_id, principal):
    return views.activity(_service().archive(principal.brand_id, activity_id, datetime.now(UTC)))
