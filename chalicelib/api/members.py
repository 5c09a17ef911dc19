"""Members as brands and admins see them: create (or enrol), read, export, erase."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint, Response

from chalicelib import bootstrap, errors, ids
from chalicelib.api import views
from chalicelib.api.http import json_body, route
from chalicelib.api.pagination import page, page_request
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
    if principal.role == "brand":  # an existing member is invited, not enrolled: their consent comes first
        profile, enrolment, created = service.create_or_invite(body, principal.brand_id, datetime.now(UTC))
        if profile is None:
            return Response(status_code=202, body=views.invitation(enrolment))
    else:  # the admin (the programme's operator) enrols directly
        profile, enrolment, created = service.create_or_enrol(body, requested, principal.role, datetime.now(UTC))
    return Response(status_code=201 if created else 200, body=views.member(profile, enrolment))


@route(bp, "/v1/members", roles=("brand", "admin"))
def list_members(principal):
    request = bp.current_request
    limit, start_key = page_request(request, "brand_id", "email", "external_id")
    requested = (request.query_params or {}).get("brand_id")
    if requested is not None and not ids.is_id(requested):
        raise errors.BadRequest("brand_id is not an id.", code="invalid_parameter", details={"parameter": "brand_id"})
    if principal.role == "brand" and requested not in (None, principal.brand_id):
        raise errors.Forbidden("A brand key lists its own members only.", details={"parameter": "brand_id"})
    brand_id = principal.brand_id or requested
    if not brand_id:
        raise errors.BadRequest("Admins list the members of one brand: add ?brand_id=.",
                                code="brand_id_required", details={"parameter": "brand_id"})
    params = request.query_params or {}
    for name, longest in (("email", 254), ("external_id", 128)):
        if name in params and not 1 <= len(params[name]) <= longest:
            raise errors.BadRequest(f"{name} is 1 to {longest} characters.", code="invalid_parameter",
                                    details={"parameter": name})
    if "email" in params or "external_id" in params:  # a lookup: the one enrolled member it names, or none
        found = service.lookup(brand_id, email=params.get("email"), external_id=params.get("external_id"))
        return {"items": [views.member(profile, enrolment) for profile, enrolment in found], "next_cursor": None}
    rows, last_key = service.brand_members(brand_id, limit, start_key)
    return page([views.member(profile, enrolment) for profile, enrolment in rows], last_key)


@route(bp, "/v1/members/{member_id}", roles=("brand", "admin"))
def get_member(member_id, principal):
    profile, enrolment = service.enrolled_profile(member_id, principal.brand_id)
    return views.member(profile, enrolment)


@route(bp, "/v1/members/{member_id}/export", roles=("admin",))
def export_member(member_id, principal):
    return bootstrap.privacy().export(member_id)


@route(bp, "/v1/members/{member_id}", methods=("DELETE",), roles=("admin",))
def erase_member(member_id, principal):
    return views.member(service.erase(member_id, datetime.now(UTC)))
