"""Rewards over HTTP on the dev stack: the catalog, code pools, a member's redemption and its cancellation."""

import uuid

import pytest

from tests.e2e.helpers import call, join, new_brand, sign_up_and_log_in

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def brand(stack):
    return new_brand(stack, "Rewards Co")


def member_of(stack, brand, points: int) -> dict:
    """A member who signed up, joined ``brand`` and was given ``points``."""
    member = sign_up_and_log_in(stack)
    join(stack, member, brand)
    if points:
        given = call(stack, "POST", f"/v1/members/{member['id']}/adjustments", brand["api_key"],
                     json={"points": points, "reason": "welcome"}, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert given.status_code == 201, given.text
    return member


def reward(stack, brand, **body) -> dict:
    created = call(stack, "POST", "/v1/rewards", brand["api_key"], json={"name": "Coffee", "cost_points": 40, **body})
    assert created.status_code == 201, created.text
    return created.json()


def redeem(stack, member, reward_id, key=None):
    return call(stack, "POST", "/v1/me/redemptions", member["id_token"], json={"reward_id": reward_id},
                headers={"Idempotency-Key": key or uuid.uuid4().hex})


def available(stack, member) -> int:
    return call(stack, "GET", "/v1/me/balance", member["id_token"]).json()["available"]


def test_bad_catalog_input_is_refused_with_the_field_named(stack, brand):
    unknown = call(stack, "POST", "/v1/rewards", brand["api_key"], json={"name": "X", "cost_points": 1, "colour": 1})
    backwards = call(stack, "POST", "/v1/rewards", brand["api_key"],
                     json={"name": "X", "cost_points": 1, "valid_from": "2027-01-02T00:00:00Z",
                           "valid_until": "2027-01-01T00:00:00Z"})
    free = call(stack, "POST", "/v1/rewards", brand["api_key"], json={"name": "X", "cost_points": 0})

    assert (unknown.status_code, unknown.json()["error"]["details"]["unknown_fields"]) == (422, ["colour"])
    assert (backwards.status_code, backwards.json()["error"]["details"]["pointer"]) == (422, "/valid_until")
    assert (free.status_code, free.json()["error"]["details"]["pointer"]) == (422, "/cost_points")


def test_a_member_redeems_a_voucher_and_the_brand_cancels_it(stack, brand):
    item = reward(stack, brand, fulfilment="voucher_pool", category="drinks", per_member_limit=2, low_stock_at=1)
    uploaded = call(stack, "POST", f"/v1/rewards/{item['id']}/codes", brand["api_key"], json={"codes": ["C1", "C2"]})
    csv = call(stack, "POST", f"/v1/rewards/{item['id']}/codes", brand["api_key"], data="C2\nC3\n\n",
               headers={"Content-Type": "text/csv"})
    assert uploaded.json() == {"received": 2, "added": 2, "duplicates": 0}
    assert csv.json() == {"received": 2, "added": 1, "duplicates": 1}
    member = member_of(stack, brand, 100)

    listed = {r["id"]: r for r in call(stack, "GET", "/v1/rewards?category=drinks", member["id_token"]).json()["items"]}
    assert listed[item["id"]]["affordable"] is True
    assert listed[item["id"]]["points_to_go"] == 0
    first = redeem(stack, member, item["id"], "order-1")
    again = redeem(stack, member, item["id"], "order-1")
    assert first.status_code == 201, first.text
    assert again.json() == first.json()
    assert first.json()["status"] == "fulfilled"
    assert first.json()["voucher_code"] in {"C1", "C2", "C3"}
    assert available(stack, member) == 60

    second = redeem(stack, member, item["id"]).json()
    third = redeem(stack, member, item["id"])
    assert (third.status_code, third.json()["error"]["code"]) == (409, "limit_reached")
    assert available(stack, member) == 20
    brand_view = call(stack, "GET", f"/v1/rewards/{item['id']}", brand["api_key"]).json()
    assert (brand_view["redeemed"], brand_view["stock_left"], brand_view["low_stock"]) == (2, 1, True)

    history = call(stack, "GET", "/v1/me/redemptions", member["id_token"]).json()["items"]
    assert [r["id"] for r in history][:2] == [second["id"], first.json()["id"]]
    brand_history = call(stack, "GET", "/v1/redemptions?limit=1", brand["api_key"]).json()
    assert brand_history["next_cursor"]
    cancelled = call(stack, "POST", f"/v1/redemptions/{first.json()['id']}/cancellation", brand["api_key"])
    twice = call(stack, "POST", f"/v1/redemptions/{first.json()['id']}/cancellation", brand["api_key"])
    assert cancelled.json()["status"] == "cancelled"
    assert twice.json() == cancelled.json()
    assert available(stack, member) == 60
    ledger = call(stack, "GET", "/v1/me/ledger", member["id_token"]).json()["items"]
    assert [e["amount"] for e in ledger[:3]] == [40, -40, -40]
    exported = call(stack, "GET", "/v1/me/export", member["id_token"]).json()["redemptions"]
    assert [(r["id"], r["status"]) for r in exported] == [(second["id"], "fulfilled"),
                                                           (first.json()["id"], "cancelled")]


def test_redemption_errors_have_stable_codes_and_move_nothing(stack, brand):
    member = member_of(stack, brand, 30)
    dear = reward(stack, brand, cost_points=31)
    gone = reward(stack, brand, cost_points=1, stock=0)
    later = reward(stack, brand, cost_points=1, valid_from="2099-01-01T00:00:00Z")
    listed = {r["id"]: r for r in call(stack, "GET", "/v1/rewards", member["id_token"]).json()["items"]}

    assert (listed[dear["id"]]["affordable"], listed[dear["id"]]["points_to_go"]) == (False, 1)
    assert later["id"] not in listed
    for reward_id, code in ((dear["id"], "insufficient_points"), (gone["id"], "out_of_stock"),
                            (later["id"], "reward_inactive")):
        refused = redeem(stack, member, reward_id)
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, code)
    no_key = call(stack, "POST", "/v1/me/redemptions", member["id_token"], json={"reward_id": dear["id"]})
    assert (no_key.status_code, no_key.json()["error"]["code"]) == (400, "idempotency_key_required")
    assert call(stack, "GET", "/v1/me/balance", member["id_token"]).json()["held"] == 0
    assert available(stack, member) == 30


def test_another_brand_and_its_members_cannot_reach_the_reward(stack, brand):
    item = reward(stack, brand)
    other = new_brand(stack, "Other Rewards Co")
    outsider = member_of(stack, other, 100)

    assert call(stack, "GET", f"/v1/rewards/{item['id']}", other["api_key"]).status_code == 404
    assert call(stack, "PUT", f"/v1/rewards/{item['id']}", other["api_key"],
                json={"name": "Mine", "cost_points": 1}).status_code == 404
    assert item["id"] not in {r["id"] for r in call(stack, "GET", "/v1/rewards", outsider["id_token"]).json()["items"]}
    assert redeem(stack, outsider, item["id"]).status_code == 404
    assert available(stack, outsider) == 100
