"""Liveness and the API description."""

from __future__ import annotations

import functools
import json

from chalice import Blueprint, Response

from chalicelib.api.http import route
from chalicelib.api.validation import OPENAPI_PATH

bp = Blueprint(__name__)


@functools.cache
def _openapi_text() -> str:
    # Served as stored text: parsing and re-serialising 100+ KB per request buys nothing.
    text = OPENAPI_PATH.read_text(encoding="utf-8")
    json.loads(text)  # fail loudly at first use if the packaged document is broken
    return text


@route(bp, "/health")
def health():
    return {"status": "ok"}


@route(bp, "/openapi.json")
def openapi():
    return Response(body=_openapi_text(), headers={"Content-Type": "application/json",
                                                   "Cache-Control": "public, max-age=300"})
