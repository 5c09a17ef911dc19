"""Events: brands send member behaviour; the earn pipeline turns it into points."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from chalice import Blueprint, Response

from chalicelib import bootstrap, errors
from chalicelib.api.http import json_body, route
from chalicelib.api.ledger import idempotency_key
from chalicelib.api.validation import validate

bp = Blueprint(__name__)


def _service():
    return bootstrap.events()


def _accepted(item) -> dict:
    return {"id": item.event_id, "status": item.status}


def view(item) -> dict:
    body = {"id": item.event_id, "status": item.status, "type": item.type, "member_id": item.member_id,
            "idempotency_key": item.idempotency_key, "occurred_at": item.occurred_at.isoformat().replace("+00:00", "Z"),
            "accepted_at": item.accepted_at.isoformat().replace("+00:00", "Z"), "attributes": item.attributes or {},
            "outcomes": [{k: v for k, v in o.items() if v is not None} for o in item.outcomes or []],
            "reversals": item.reversals or []}
    if item.channel:
        body["channel"] = item.channel
    if item.reason:
        body["reason"] = item.reason
    if item.details:
        body["details"] = item.details
    if item.processed_at:
        body["processed_at"] = item.processed_at.isoformat().replace("+00:00", "Z")
    return body


@route(bp, "/v1/events", methods=("POST",), roles=("brand",))
def send_event(principal):
    body = validate("EventCreate", json_body(bp.current_request))
    item = _service().accept(principal.brand_id, body, datetime.now(UTC))
    return Response(status_code=202, body=_accepted(item))


@route(bp, "/v1/events/batch", methods=("POST",), roles=("brand",))
def send_events(principal):
    body = validate("EventBatch", json_body(bp.current_request))
    results = []
    checked = []
    for index, event in enumerate(body["events"]):  # each event checked on its own
        try:
            checked.append(validate("EventCreate", event))
        except errors.PunchcardError as e:
            pointer = f"/events/{index}" + (e.details or {}).get("pointer", "")
            checked.append(errors.ValidationFailed(e.message, details={**(e.details or {}), "pointer": pointer}))
    valid = [c for c in checked if isinstance(c, dict)]
    stored = iter(_service().accept_batch(principal.brand_id, valid, datetime.now(UTC)))
    for index, entry in enumerate(checked):
        outcome = next(stored) if isinstance(entry, dict) else entry
        if isinstance(outcome, errors.PunchcardError):
            results.append({"index": index, "status": "error", "error": outcome.to_body()["error"]})
        else:
            results.append({"index": index, **_accepted(outcome)})
    return Response(status_code=202, body={"items": results})


@route(bp, "/v1/events/{event_id}", roles=("brand",))
def get_event(event_id, principal):
    return view(_service().get(principal.brand_id, event_id))


@route(bp, "/v1/events/{event_id}/reversal", methods=("POST",), roles=("brand",))
def reverse_event(event_id, principal):
    request = bp.current_request
    service = _service()
    service.get(principal.brand_id, event_id)  # 404 before any 400: ids are never probed
    body = validate("EventReversal", json_body(request))
    amount = Decimal(str(body["amount"])) if body.get("amount") is not None else None
    # a full reversal is one per event, safe to retry without a key; a partial refund needs one
    has_key = "idempotency-key" in (request.headers or {})
    key = idempotency_key(request) if has_key or amount is not None else "full"
    result = service.reverse(principal.brand_id, event_id, key, amount, datetime.now(UTC))
    return Response(status_code=201, body=result)
