"""A member's own data: profile, consents, export, erasure."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint

from chalicelib.api import views
from chalicelib.api.http import json_body, route
from chalicelib.api.validation import validate
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
    return views.export(principal.member_id)


@route(bp, "/v1/me", methods=("DELETE",), roles=("member",))
def erase_me(principal):
    return views.member(service.erase(principal.member_id, datetime.now(UTC)))
