"""Rewards: the brand's catalog and code pools; members browse, redeem and see their history."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint, Response

from chalicelib import bootstrap, errors, ids
from chalicelib.api import views
from chalicelib.api.http import json_body, query, route
from chalicelib.api.ledger import idempotency_key
from chalicelib.api.pagination import page, page_request
from chalicelib.api.validation import validate
from chalicelib.members import service as members
from chalicelib.members import store as member_store
from chalicelib.timestamps import iso

bp = Blueprint(__name__)

MAX_CODES = 100_000


def reward_view(item) -> dict:
    left = bootstrap.catalog().stock_left(item)
    return {**item.definition, "id": item.reward_id, "brand_id": item.brand_id, "status": item.status,
            "redeemed": int(item.claimed), "stock_left": left,
            "low_stock": left is not None and left <= bootstrap.catalog().low_stock_at(item),
            "created_at": iso(item.created_at), "updated_at": iso(item.updated_at)}


def _for_member(item, available: int, tier: str | None) -> dict:
    definition = item.definition
    view = {key: definition[key] for key in ("name", "description", "image_url", "category", "cost_points",
                                             "valid_until", "tiers", "per_member_limit") if key in definition}
    cost = int(definition["cost_points"])
    return {**view, "id": item.reward_id, "brand_id": item.brand_id, "stock_left": bootstrap.catalog().stock_left(item),
            "affordable": available >= cost, "points_to_go": max(0, cost - available),
            "tier_ok": not definition.get("tiers") or tier in definition["tiers"]}


@route(bp, "/v1/rewards", methods=("POST",), roles=("brand",))
def create_reward(principal):
    body = validate("RewardInput", json_body(bp.current_request))
    created = bootstrap.catalog().create(principal.brand_id, body, datetime.now(UTC))
    return Response(status_code=201, body=reward_view(created))


@route(bp, "/v1/rewards", roles=("brand", "member"))
def list_rewards(principal):
    query(bp.current_request, "category")
    category = (bp.current_request.query_params or {}).get("category")
    now = datetime.now(UTC)
    if principal.role == "brand":
        items = [reward_view(r) for r in bootstrap.catalog().brand_rewards(principal.brand_id)
                 if category is None or r.definition.get("category") == category]
        return {"items": items, "next_cursor": None}
    members.own_profile(principal.member_id)
    available = bootstrap.ledger_store().book(principal.member_id).available(now)
    tier, items = bootstrap.redemptions().member_tier(principal.member_id, now), []
    catalog = bootstrap.catalog()
    for enrolment in member_store.enrolments(principal.member_id):
        items += [_for_member(r, available, tier) for r in catalog.brand_rewards(enrolment.brand_id)
                  if catalog.open_at(r, now) and (category is None or r.definition.get("category") == category)]
    return {"items": items, "next_cursor": None}


@route(bp, "/v1/rewards/{reward_id}", roles=("brand",))
def get_reward(reward_id, principal):
    return reward_view(bootstrap.catalog().get(reward_id, principal.brand_id))


@route(bp, "/v1/rewards/{reward_id}", methods=("PUT",), roles=("brand",))
def update_reward(reward_id, principal):
    bootstrap.catalog().get(reward_id, principal.brand_id)  # 404 before any 400: ids are never probed
    body = validate("RewardInput", json_body(bp.current_request))
    return reward_view(bootstrap.catalog().update(principal.brand_id, reward_id, body, datetime.now(UTC)))


@route(bp, "/v1/rewards/{reward_id}", methods=("DELETE",), roles=("brand",))
def archive_reward(reward_id, principal):
    return reward_view(bootstrap.catalog().archive(principal.brand_id, reward_id, datetime.now(UTC)))


def _codes(request) -> list[str]:
    content_type = ((request.headers or {}).get("content-type") or "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        try:
            text = (request.raw_body or b"").decode("utf-8")
        except UnicodeDecodeError as e:
            raise errors.BadRequest("The CSV is not UTF-8.", code="malformed_csv") from e
        codes = [line.strip().split(",")[0].strip().strip('"') for line in text.splitlines()]
        codes = [code for code in codes if code]
        pointer = "/codes"
    else:
        codes = validate("CodeUpload", json_body(request))["codes"]
        pointer = "/codes"
    if not codes or len(codes) > MAX_CODES:
        raise errors.ValidationFailed(f"Send 1 to {MAX_CODES} codes.", details={"pointer": pointer, "rule": "size"})
    bad = next((i for i, code in enumerate(codes) if not (1 <= len(code) <= 128) or not code.isprintable()), None)
    if bad is not None:
        raise errors.ValidationFailed("A code is 1 to 128 printable characters.",
                                      details={"pointer": f"{pointer}/{bad}", "rule": "code"})
    return codes


@route(bp, "/v1/rewards/{reward_id}/codes", methods=("POST",), roles=("brand",),
       content_types=["application/json", "text/csv"], max_body_bytes=4 * 1024 * 1024)
def upload_codes(reward_id, principal):
    bootstrap.catalog().get(reward_id, principal.brand_id)
    codes = _codes(bp.current_request)
    return bootstrap.code_pools().upload(principal.brand_id, reward_id, codes, datetime.now(UTC))


@route(bp, "/v1/me/redemptions", methods=("POST",), roles=("member",))
def redeem(principal):
    request = bp.current_request
    key = idempotency_key(request)
    body = validate("RedemptionCreate", json_body(request))
    members.own_profile(principal.member_id)
    item = bootstrap.redemptions().redeem(principal.member_id, body["reward_id"], key, datetime.now(UTC))
    if item.status == "failed":
        raise errors.Conflict("The redemption failed.", code=item.reason or "redemption_failed",
                              details={"redemption_id": item.redemption_id})
    return Response(status_code=201, body=views.redemption(item))


@route(bp, "/v1/me/redemptions", roles=("member",))
def my_redemptions(principal):
    limit, start = page_request(bp.current_request)
    items, last = bootstrap.redemptions().member_redemptions(principal.member_id, limit, start)
    return page([views.redemption(i) for i in items], last)


@route(bp, "/v1/redemptions", roles=("brand",))
def brand_redemptions(principal):
    limit, start = page_request(bp.current_request)
    items, last = bootstrap.redemptions().brand_redemptions(principal.brand_id, limit, start)
    return page([views.redemption(i) for i in items], last)


@route(bp, "/v1/redemptions/{redemption_id}/cancellation", methods=("POST",), roles=("brand",))
def cancel_redemption(redemption_id, principal):
    item = bootstrap.redemptions().cancel(principal.brand_id, redemption_id, datetime.now(UTC))
    return views.redemption(item)


def _wish_view(wish, reward, available: int) -> dict:
    view = {"reward_id": wish.reward_id, "added_at": iso(wish.added_at), "available_now": False}
    if reward is not None:
        cost = int(reward.definition["cost_points"])
        view.update(name=reward.definition["name"], cost_points=cost, available_now=bootstrap.catalog().open_at(
            reward, datetime.now(UTC)), affordable=available >= cost, points_to_go=max(0, cost - available),
            progress=min(1.0, round(available / cost, 4)))
    return view


@route(bp, "/v1/me/wishlist", roles=("member",))
def my_wishlist(principal):
    available = bootstrap.ledger_store().book(principal.member_id).available(datetime.now(UTC))
    return {"items": [_wish_view(w, r, available) for w, r in bootstrap.wishlist().items(principal.member_id)],
            "next_cursor": None}


@route(bp, "/v1/me/wishlist/{reward_id}", methods=("PUT",), roles=("member",))
def wish(reward_id, principal):
    now = datetime.now(UTC)
    item = bootstrap.wishlist().add(principal.member_id, reward_id, now)
    available = bootstrap.ledger_store().book(principal.member_id).available(now)
    return _wish_view(item, bootstrap.catalog().get(reward_id), available)


@route(bp, "/v1/me/wishlist/{reward_id}", methods=("DELETE",), roles=("member",))
def unwish(reward_id, principal):
    if not ids.is_id(reward_id):  # nothing by that id can be on a wishlist
        raise errors.NotFound("No such reward.", details={"reward_id": reward_id})
    bootstrap.wishlist().remove(principal.member_id, reward_id)
    return Response(status_code=204, body="")
