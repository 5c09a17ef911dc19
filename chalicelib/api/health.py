"""Liveness and the API description."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import contract
from chalicelib.api.http import route

bp = Blueprint(__name__)


@route(bp, "/health")
def health():
    return {"status": "ok"}


@route(bp, "/openapi.json")
def openapi():
    # Served as stored text: re-serialising 100+ KB per request buys nothing.
    return Response(body=contract.text(), headers={"Content-Type": "application/json",
                                                   "Cache-Control": "public, max-age=300"})
