"""Cursor pagination: ``?limit=&cursor=`` in, ``{"items", "next_cursor"}`` out.

A cursor is DynamoDB's LastEvaluatedKey, base64url-encoded JSON: opaque to clients. It can
only move a query within the partition the route already fixed (the caller's brand, say), so
a forged cursor reads nothing the caller could not read anyway; a malformed one is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib import errors
from chalicelib.api.http import query

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def page_request(request, *other_params: str) -> tuple[int, dict[str, Any] | None]:
    """``limit`` and the decoded ``cursor``; any parameter not in ``other_params`` is a 400."""
    params = query(request, "limit", "cursor", *other_params)
    raw_limit = params.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise errors.BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}.", code="invalid_limit",
                                details={"parameter": "limit"})
    return int(raw_limit), decode_cursor(params.get("cursor"))


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        decoded = None
    if not isinstance(decoded, dict) or not all(isinstance(v, dict) for v in decoded.values()):
        raise errors.BadRequest("The cursor is not one this API issued.", code="invalid_cursor",
                                details={"parameter": "cursor"})
    return decoded


def page(items: list[Any], last_key: dict[str, Any] | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": encode_cursor(last_key)}
