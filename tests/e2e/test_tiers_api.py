"""Tiers and the wishlist over HTTP on the dev stack."""

import uuid

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.helpers import call, member_of, new_brand

pytestmark = pytest.mark.slow

PROGRAM = {"tiers": [{"id": "blue", "name": "Blue", "threshold": 0},
                     {"id": "silver", "name": "Silver", "threshold": 50, "multiplier": 2,
                      "benefits": ["Double points"]}],
           "qualification": {"window_months": 12, "grace_days": 30, "warn_days": 7}}


@pytest.fixture
def program(stack):
    admin = stack.credentials["admin_key"]
    put = call(stack, "PUT", "/v1/tiers", admin, json=PROGRAM)
    assert put.status_code == 200, put.text
    yield put.json()
    call(stack, "PUT", "/v1/tiers", admin, json={"tiers": []})  # the stack is shared: leave no multiplier behind


def enrolled_member(stack, brand) -> dict:
    return member_of(stack, brand)


def test_anyone_reads_the_tiers_only_the_admin_sets_them(stack):
    brand = new_brand(stack, "Tier Co")
    reset = call(stack, "PUT", "/v1/tiers", stack.credentials["admin_key"], json={"tiers": []})
    public = call(stack, "GET", "/v1/tiers")
    by_brand = call(stack, "PUT", "/v1/tiers", brand["api_key"], json=PROGRAM)
    bad = call(stack, "PUT", "/v1/tiers", stack.credentials["admin_key"],
               json={"tiers": [{"id": "vip", "name": "VIP", "threshold": 10}]})

    assert reset.status_code == 200
    assert public.json() == {"tiers": [], "qualification": {"window_months": 12, "grace_days": 30, "warn_days": 14}}
    assert by_brand.status_code == 403
    assert (bad.status_code, bad.json()["error"]["details"]["pointer"]) == (422, "/tiers/0/threshold")


def test_earning_climbs_a_tier_at_once_and_the_multiplier_pays(stack, program):
    brand = new_brand(stack, "Climb Co")
    activity = call(stack, "POST", "/v1/activities", brand["api_key"], json={
        "name": "Visit", "status": "active", "trigger": {"event": "visit"}, "reward": {"points": 30}})
    assert activity.status_code == 201, activity.text
    member = enrolled_member(stack, brand)
    balance = call(stack, "GET", "/v1/me/balance", member["id_token"]).json()
    assert (balance["tier"], balance["next_tier"], balance["points_to_next_tier"]) == ("blue", "silver", 50)

    earned = []
    for _ in range(3):
        sent = call(stack, "POST", "/v1/events", brand["api_key"], json={
            "type": "visit", "member_id": member["id"], "idempotency_key": uuid.uuid4().hex}).json()

        def done(event_id=sent["id"]):
            body = call(stack, "GET", f"/v1/events/{event_id}", brand["api_key"]).json()
            return body if body["status"] != "accepted" else None

        event = wait_until(done, timeout=60)
        assert event, "the event was not processed"
        earned.append(event["outcomes"][0]["points"])

    balance = call(stack, "GET", "/v1/me/balance", member["id_token"]).json()
    assert earned == [30, 30, 60]  # silver from the second grant: the third pays double
    assert (balance["tier"], balance["next_tier"], balance["points_to_next_tier"]) == ("silver", None, None)
    assert balance["qualifying_points"] == 120


def test_a_wishlist_shows_progress_and_only_reaches_the_members_brands(stack):
    brand, other = new_brand(stack, "Wish Co"), new_brand(stack, "Elsewhere Co")
    reward = call(stack, "POST", "/v1/rewards", brand["api_key"], json={"name": "Mug", "cost_points": 80}).json()
    foreign = call(stack, "POST", "/v1/rewards", other["api_key"], json={"name": "Cap", "cost_points": 5}).json()
    member = enrolled_member(stack, brand)
    call(stack, "POST", f"/v1/members/{member['id']}/adjustments", brand["api_key"],
         json={"points": 20, "reason": "welcome"}, headers={"Idempotency-Key": uuid.uuid4().hex})

    added = call(stack, "PUT", f"/v1/me/wishlist/{reward['id']}", member["id_token"])
    again = call(stack, "PUT", f"/v1/me/wishlist/{reward['id']}", member["id_token"])
    refused = call(stack, "PUT", f"/v1/me/wishlist/{foreign['id']}", member["id_token"])
    listed = call(stack, "GET", "/v1/me/wishlist", member["id_token"]).json()["items"]

    assert added.status_code == 200, added.text
    assert again.json()["added_at"] == added.json()["added_at"]
    assert refused.status_code == 404
    assert [(i["reward_id"], i["points_to_go"], i["progress"], i["affordable"]) for i in listed] == \
        [(reward["id"], 60, 0.25, False)]
    assert call(stack, "DELETE", f"/v1/me/wishlist/{reward['id']}", member["id_token"]).status_code == 204
    assert call(stack, "DELETE", f"/v1/me/wishlist/{reward['id']}", member["id_token"]).status_code == 204
    assert call(stack, "GET", "/v1/me/wishlist", member["id_token"]).json()["items"] == []


def test_a_tier_only_reward_refuses_other_tiers(stack, program):
    brand = new_brand(stack, "Gold Club Co")
    reward = call(stack, "POST", "/v1/rewards", brand["api_key"],
                  json={"name": "Lounge", "cost_points": 1, "tiers": ["silver"]}).json()
    member = enrolled_member(stack, brand)
    call(stack, "POST", f"/v1/members/{member['id']}/adjustments", brand["api_key"],
         json={"points": 10, "reason": "welcome"}, headers={"Idempotency-Key": uuid.uuid4().hex})

    listed = {r["id"]: r for r in call(stack, "GET", "/v1/rewards", member["id_token"]).json()["items"]}
    refused = call(stack, "POST", "/v1/me/redemptions", member["id_token"], json={"reward_id": reward["id"]},
                   headers={"Idempotency-Key": uuid.uuid4().hex})

    assert listed[reward["id"]]["tier_ok"] is False
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "tier_required")
    assert call(stack, "GET", "/v1/me/balance", member["id_token"]).json()["available"] == 10
