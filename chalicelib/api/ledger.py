"""Points: a member's balance and history (brands, admins, the member) and manual adjustments."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from chalice import Blueprint, Response

from chalicelib import bootstrap, config, errors
from chalicelib.api import views
from chalicelib.api.http import json_body, route
from chalicelib.api.pagination import page, page_request
from chalicelib.api.validation import validate
from chalicelib.bus import catalogue, publisher
from chalicelib.ledger import model
from chalicelib.members import service as members

bp = Blueprint(__name__)

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def _balance(member_id: str) -> dict:
    return views.balance(member_id, bootstrap.ledger_store().book(member_id), bootstrap.now())


def _history(member_id: str, viewer_brand: str | None) -> dict:
    """The member's history; a brand's view holds that brand's own entries only."""
    limit, start_key = page_request(bp.current_request)
    transfers, last_key = bootstrap.ledger_store().history(member_id, limit, start_key, brand_id=viewer_brand)
    return page([views.ledger_entry(t, member_id) for t in transfers], last_key)


def idempotency_key(request) -> str:
    key = (request.headers or {}).get("idempotency-key")
    if key is None:
        raise errors.BadRequest("Send an Idempotency-Key header: the same key makes a retry safe.",
                                code="idempotency_key_required", details={"header": "Idempotency-Key"})
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise errors.BadRequest("Idempotency-Key must be 1 to 255 printable ASCII characters.",
                                code="invalid_idempotency_key", details={"header": "Idempotency-Key"})
    return key


@route(bp, "/v1/members/{member_id}/balance", roles=("brand", "admin"))
def member_balance(member_id, principal):
    members.enrolled_profile(member_id, principal.brand_id)
    return _balance(member_id)


@route(bp, "/v1/members/{member_id}/ledger", roles=("brand", "admin"))
def member_ledger(member_id, principal):
    members.enrolled_profile(member_id, principal.brand_id)
    return _history(member_id, principal.brand_id)


@route(bp, "/v1/members/{member_id}/adjustments", methods=("POST",), roles=("brand", "admin"))
def adjust_points(member_id, principal):
    profile, _ = members.enrolled_profile(member_id, principal.brand_id)  # 404 before any 400: no probing
    if profile.status != "active":
        raise errors.NotFound("No such member.", details={"member_id": member_id})
    request = bp.current_request
    key = idempotency_key(request)
    body = validate("AdjustmentCreate", json_body(request))
    if abs(body["points"]) > config.max_points_per_adjustment():
        raise errors.ValidationFailed(f"/points: an adjustment moves at most {config.max_points_per_adjustment()} "
                                      "points either way.", code="points_over_maximum",
                                      details={"pointer": "/points", "maximum": config.max_points_per_adjustment()})
    by = (("brand_id", principal.brand_id),) if principal.brand_id else (("by", "admin"),)
    transfer = bootstrap.ledger().adjust(
        model.transfer_id("adjustment", principal.brand_id or "admin", key), member_id, body["points"],
        body["reason"], expires_after=body.get("expires_after"),
        metadata=by + ((("ticket", body["ticket"]),) if body.get("ticket") else ()))
    # after the commit: a failed send answers 5xx, and the retry (same key) finds the transfer and sends again
    publisher.publish(catalogue.PointsAdjusted(
        id=f"adjusted:{transfer.id}", brand_id=principal.brand_id, member_id=member_id, points=body["points"],
        reason=body["reason"], at=transfer.timestamp or datetime.now(UTC)))
    return Response(status_code=201, body=views.ledger_entry(transfer, member_id))


@route(bp, "/v1/me/balance", roles=("member",))
def my_balance(principal):
    members.own_profile(principal.member_id)
    return _balance(principal.member_id)


@route(bp, "/v1/me/ledger", roles=("member",))
def my_ledger(principal):
    members.own_profile(principal.member_id)
    return _history(principal.member_id, None)
