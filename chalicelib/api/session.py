"""Member sign-up, confirmation, login and token refresh (no credential needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint, Response

from chalicelib.api.http import json_body, route
from chalicelib.api.validation import validate
from chalicelib.identity import cognito
from chalicelib.members import accounts

bp = Blueprint(__name__)


@route(bp, "/v1/auth/signup", methods=("POST",))
def signup():
    body = validate("Signup", json_body(bp.current_request))
    member_id, needs_confirmation = accounts.sign_up(body["email"], body["password"], body.get("name"),
                                                     datetime.now(UTC))
    return Response(status_code=201, body={"id": member_id, "email": body["email"].strip().lower(),
                                           "confirmation_required": needs_confirmation})


@route(bp, "/v1/auth/confirm", methods=("POST",))
def confirm():
    body = validate("Confirm", json_body(bp.current_request))
    accounts.confirm(body["email"], body["code"])
    return {"confirmed": True}


@route(bp, "/v1/auth/login", methods=("POST",))
def login():
    body = validate("Login", json_body(bp.current_request))
    return accounts.login(body["email"], body["password"])


@route(bp, "/v1/auth/refresh", methods=("POST",))
def refresh():
    body = validate("Refresh", json_body(bp.current_request))
    return cognito.refresh(body["refresh_token"])
