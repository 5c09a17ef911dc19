"""The leaderboard: top N and the caller's own rank, by week, month or all time."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint

from chalicelib import bootstrap, config, errors, ids
from chalicelib.api.http import json_body, query, route
from chalicelib.api.validation import validate
from chalicelib.leaderboard import model
from chalicelib.members import service as members
from chalicelib.members import store as member_store

bp = Blueprint(__name__)

DEFAULT_LIMIT, MAX_LIMIT = 10, 100


def _params(request) -> tuple[str, str | None, int]:
    params = query(request, "period", "brand_id", "limit")
    period = params.get("period", "week")
    if period not in ("week", "month", "all"):
        raise errors.BadRequest("period is week, month or all.", code="invalid_parameter",
                                details={"parameter": "period"})
    raw = params.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise errors.BadRequest(f"limit is 1 to {MAX_LIMIT}.", code="invalid_parameter",
                                details={"parameter": "limit"})
    brand_id = params.get("brand_id")
    if brand_id is not None and not ids.is_id(brand_id):
        raise errors.BadRequest("brand_id is a brand's id.", code="invalid_parameter",
                                details={"parameter": "brand_id"})
    return period, brand_id, int(raw)


@route(bp, "/v1/leaderboard", roles=("member", "brand"))
def leaderboard(principal):
    period, brand_id, limit = _params(bp.current_request)
    if principal.role == "brand":
        if brand_id not in (None, principal.brand_id):
            raise errors.NotFound("No such leaderboard.", details={"brand_id": brand_id})
        scope, member_id = f"B.{principal.brand_id}", None
    else:
        members.own_profile(principal.member_id)
        if brand_id is not None and member_store.get_enrolment(principal.member_id, brand_id) is None:
            raise errors.NotFound("No such leaderboard.", details={"brand_id": brand_id})
        scope, member_id = (f"B.{brand_id}" if brand_id else "P"), principal.member_id
    now = datetime.now(UTC)
    board = bootstrap.leaderboard().board(scope, period, now)
    items = [{"rank": row["rank"], "member_display": row["member_display"], "points": row["points"],
              "me": row["member_id"] == member_id} for row in bootstrap.leaderboard().top(board, limit)]
    me = bootstrap.leaderboard().standing(board, member_id) if member_id else None
    return {"period": period, "period_key": model.period_key(period, now, config.program_timezone()),
            "brand_id": brand_id if principal.role == "member" else principal.brand_id, "items": items, "me": me}


@route(bp, "/v1/me/leaderboard", methods=("PUT",), roles=("member",))
def set_display_name(principal):
    body = validate("LeaderboardName", json_body(bp.current_request))
    members.own_profile(principal.member_id)
    return bootstrap.leaderboard().set_name(principal.member_id, body["display_name"])
