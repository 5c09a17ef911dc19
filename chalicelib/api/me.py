"""A member's own data: profile, consents, export, erasure; brands' invitations and joining a brand."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint, Response

from chalicelib import bootstrap, errors, ids
from chalicelib.api import views
from chalicelib.api.http import json_body, route
from chalicelib.api.validation import validate
from chalicelib.brands import store as brands
from chalicelib.members import service, store
from chalicelib.timestamps import iso

bp = Blueprint(__name__)


def _me(member_id: str) -> dict:
    view = views.member(service.own_profile(member_id))
    view["enrolments"] = [{"brand_id": e.brand_id, "enrolled_at": iso(e.enrolled_at)}
                          for e in store.enrolments(member_id)]
    return view


@route(bp, "/v1/me", roles=("member",))
def get_me(principal):
    return _me(principal.member_id)


@route(bp, "/v1/me", methods=("PATCH",), roles=("member",))
def update_me(principal):
    changes = validate("MeUpdate", json_body(bp.current_request))
    service.update_own_profile(principal.member_id, changes, datetime.now(UTC))
    return _me(principal.member_id)


@route(bp, "/v1/me/export", roles=("member",))
def export_me(principal):
    return bootstrap.privacy().export(principal.member_id)


@route(bp, "/v1/me", methods=("DELETE",), roles=("member",))
def erase_me(principal):
    return views.member(service.erase(principal.member_id, datetime.now(UTC)))




def _brand_id(brand_id: str) -> str:
    if not ids.is_id(brand_id):
        raise errors.NotFound("No such brand.", details={"brand_id": brand_id})
    return brand_id


@route(bp, "/v1/me/invitations", roles=("member",))
def my_invitations(principal):
    items = service.invitations(principal.member_id)
    return {"items": [views.enrolment(e, brands.get_brand(e.brand_id).name) for e in items]}


@route(bp, "/v1/me/invitations/{brand_id}/acceptance", methods=("POST",), roles=("member",))
def accept_invitation(brand_id, principal):
    enrolment = service.accept_invitation(principal.member_id, _brand_id(brand_id), datetime.now(UTC))
    return views.enrolment(enrolment)


@route(bp, "/v1/me/invitations/{brand_id}", methods=("DELETE",), roles=("member",))
def decline_invitation(brand_id, principal):
    service.decline_invitation(principal.member_id, _brand_id(brand_id))
    return Response(status_code=204, body="")


@route(bp, "/v1/me/enrolments/{brand_id}", methods=("PUT",), roles=("member",))
def join_brand(brand_id, principal):
    enrolment, joined = service.join(principal.member_id, _brand_id(brand_id), datetime.now(UTC))
    return Response(status_code=201 if joined else 200, body=views.enrolment(enrolment))
