"""Members as brands and admins see them: create (or enrol), read, export, erase."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint, Response

from chalicelib import errors
from chalicelib.api import views
from chalicelib.api.http import json_body, route
from chalicelib.api.validation import validate
from chalicelib.members import service

bp = Blueprint(__name__)


@route(bp, "/v1/members", methods=("POST",), roles=("brand", "admin"))
def create_member(principal):
    body = validate("MemberCreate", json_body(bp.current_request))
    requested = body.pop("brand_id", None)
    if principal.role == "brand" and requested not in (None, principal.brand_id):
        raise errors.Forbidden("A brand key enrols members with its own brand only.",
                               details={"pointer": "/brand_id"})
    brand_id = principal.brand_id if principal.role == "brand" else requested
    profile, enrolment, created = service.create_or_enrol(body, brand_id, principal.role, datetime.now(UTC))
    return Response(status_code=201 if created else 200, body=views.member(profile, enrolment))


@route(bp, "/v1/members/{member_id}", roles=("brand", "admin"))
def get_member(member_id, principal):
    profile, enrolment = service.enrolled_profile(member_id, principal.brand_id)
    return views.member(profile, enrolment)


@route(bp, "/v1/members/{member_id}/export", roles=("admin",))
def export_member(member_id, principal):
    return service.export(member_id)


@route(bp, "/v1/members/{member_id}", methods=("DELETE",), roles=("admin",))
def erase_member(member_id, principal):
    return views.member(service.erase(member_id, datetime.now(UTC)))
