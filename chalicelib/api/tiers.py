"""Tiers (levels): anyone may read the program's tiers; the admin sets them."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint

from chalicelib import bootstrap
from chalicelib.api.http import json_body, route
from chalicelib.api.validation import validate

bp = Blueprint(__name__)


def _service():
    return bootstrap.tiers()


@route(bp, "/v1/tiers")
def get_tiers():
    return _service().definition()


@route(bp, "/v1/tiers", methods=("PUT",), roles=("admin",))
def put_tiers(principal):
    body = validate("TierProgram", json_body(bp.current_request))
    return _service().configure(body, datetime.now(UTC))
