"""Brand onboarding and API keys (admin)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint, Response

from chalicelib.api.http import json_body, route
from chalicelib.api.validation import validate
from chalicelib.brands import service
from chalicelib.errors import NotFound
from chalicelib.timestamps import iso

bp = Blueprint(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def key_view(key, now: datetime) -> dict:
    return {"id": key.key_id, "prefix": key.prefix, "status": service.key_state(key, now),
            "created_at": iso(key.created_at), "expires_at": iso(key.expires_at),
            "revoked_at": iso(key.revoked_at)}


@route(bp, "/v1/brands", methods=("POST",), roles=("admin",))
def create_brand(principal):
    body = validate("BrandCreate", json_body(bp.current_request))
    brand, issued = service.create_brand(body["name"].strip(" \t\n\r"), _now())
    return Response(status_code=201, body={
        "id": brand.brand_id, "name": brand.name, "created_at": iso(brand.created_at),
        "api_key": issued.api_key, "key": key_view(issued.key, _now())})


@route(bp, "/v1/brands/{brand_id}", roles=("admin", "brand"))
def get_brand(brand_id, principal):
    if principal.role == "brand" and principal.brand_id != brand_id:
        raise NotFound("No such brand.", details={"brand_id": brand_id})
    brand, keys = service.get_brand(brand_id)
    now = _now()
    return {"id": brand.brand_id, "name": brand.name, "created_at": iso(brand.created_at),
            "keys": [key_view(k, now) for k in keys]}


@route(bp, "/v1/brands/{brand_id}/keys", methods=("POST",), roles=("admin",))
def rotate_key(brand_id, principal):
    issued, grace_ends = service.rotate_key(brand_id, _now())
    return Response(status_code=201, body={"api_key": issued.api_key, "key": key_view(issued.key, _now()),
                                           "previous_keys_expire_at": iso(grace_ends)})


@route(bp, "/v1/brands/{brand_id}/keys/{key_id}", methods=("DELETE",), roles=("admin",))
def revoke_key(brand_id, key_id, principal):
    return key_view(service.revoke_key(brand_id, key_id, _now()), _now())
