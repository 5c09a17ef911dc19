"""Points over HTTP: balances, history, adjustments with Idempotency-Key, the member's own view."""

import uuid

import pytest

from tests.e2e.helpers import call, new_brand, new_email, sign_up_and_log_in

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def brand(stack):
    return new_brand(stack, "Points Co")


def enrol(stack, brand, email=None) -> str:
    response = call(stack, "POST", "/v1/members", brand["api_key"], json={"email": email or new_email()})
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def join(stack, brand, member) -> None:
    """The member joins the brand themselves (a brand enrolling their e-mail only invites them)."""
    joined = call(stack, "PUT", f"/v1/me/enrolments/{brand['id']}", member["id_token"])
    assert joined.status_code in (200, 201), joined.text


def adjust(stack, key, member_id, body, idempotency_key=None):
    headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    return call(stack, "POST", f"/v1/members/{member_id}/adjustments", key, json=body, headers=headers)


def test_an_adjustment_moves_points_exactly_once_per_idempotency_key(stack, brand):
    member_id = enrol(stack, brand)
    body = {"points": 250, "reason": "Goodwill: late delivery", "expires_after": "P6M", "ticket": "SUP-1"}

    first = adjust(stack, brand["api_key"], member_id, body, "key-1")
    again = adjust(stack, brand["api_key"], member_id, body, "key-1")
    changed = adjust(stack, brand["api_key"], member_id, {**body, "points": 300}, "key-1")

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    entry = first.json()
    assert (entry["points"], entry["code"], entry["metadata"]["ticket"]) == (250, "adjust", "SUP-1")
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "exists_with_different_fields"
    balance = call(stack, "GET", f"/v1/members/{member_id}/balance", brand["api_key"]).json()
    assert (balance["available"], balance["posted"], balance["held"], balance["pending"]) == (250, 250, 0, 0)
    assert balance["expiring"][0]["points"] == 250
    assert balance["lifetime_earned"] == 0  # adjustments are not earnings


def test_a_debit_beyond_the_balance_is_refused_whole(stack, brand):
    member_id = enrol(stack, brand)
    adjust(stack, brand["api_key"], member_id, {"points": 40, "reason": "start"})

    refused = adjust(stack, brand["api_key"], member_id, {"points": -41, "reason": "too much"})
    taken = adjust(stack, brand["api_key"], member_id, {"points": -40, "reason": "all of it"})

    assert refused.status_code == 409
    assert refused.json()["error"] == {"code": "insufficient_points", "message": "Not enough points available.",
                                       "details": {"available": 40, "requested": 41}}
    assert taken.status_code == 201
    assert (taken.json()["points"], taken.json()["amount"], taken.json()["direction"]) == (-40, -40, "debit")
    assert call(stack, "GET", f"/v1/members/{member_id}/balance", brand["api_key"]).json()["available"] == 0


@pytest.mark.parametrize(("headers", "body", "status", "code"), [
    ({}, {"points": 1, "reason": "x"}, 400, "idempotency_key_required"),
    ({"Idempotency-Key": "has space"}, {"points": 1, "reason": "x"}, 400, "invalid_idempotency_key"),
    ({"Idempotency-Key": "k"}, {"points": 0, "reason": "x"}, 422, "validation_failed"),
    ({"Idempotency-Key": "k"}, {"points": 1}, 422, "validation_failed"),
    ({"Idempotency-Key": "k"}, {"points": 1.5, "reason": "x"}, 422, "validation_failed"),
    ({"Idempotency-Key": "k"}, {"points": 1, "reason": "x", "expires_after": "12 months"}, 422, "validation_failed"),
    ({"Idempotency-Key": "k"}, {"points": 1, "reason": "x", "bonus": 1}, 422, "validation_failed"),
])
def test_bad_adjustments_get_a_clear_4xx_and_move_nothing(stack, brand, headers, body, status, code):
    member_id = enrol(stack, brand)

    response = call(stack, "POST", f"/v1/members/{member_id}/adjustments", brand["api_key"], json=body,
                    headers=headers)

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert call(stack, "GET", f"/v1/members/{member_id}/ledger", brand["api_key"]).json()["items"] == []


def test_history_pages_newest_first_and_cursors_stay_with_their_member(stack, brand):
    member_id, other_id = enrol(stack, brand), enrol(stack, brand)
    for points in (1, 2, 3):
        adjust(stack, brand["api_key"], member_id, {"points": points, "reason": f"r{points}"})

    first = call(stack, "GET", f"/v1/members/{member_id}/ledger?limit=2", brand["api_key"]).json()
    second = call(stack, "GET", f"/v1/members/{member_id}/ledger?limit=2&cursor={first['next_cursor']}",
                  brand["api_key"]).json()
    stolen = call(stack, "GET", f"/v1/members/{other_id}/ledger?cursor={first['next_cursor']}", brand["api_key"])

    assert [e["points"] for e in first["items"] + second["items"]] == [3, 2, 1]
    assert second["next_cursor"] is None
    assert stolen.status_code == 400
    assert stolen.json()["error"]["code"] == "invalid_cursor"


def test_a_member_sees_their_own_points_and_a_brand_sees_only_its_own_entries(stack, brand):
    member = sign_up_and_log_in(stack)
    join(stack, brand, member)
    other = call(stack, "POST", "/v1/brands", stack.credentials["admin_key"], json={"name": "Other Co"}).json()
    join(stack, other, member)
    adjust(stack, brand["api_key"], member["id"], {"points": 70, "reason": "welcome gift"})

    balance = call(stack, "GET", "/v1/me/balance", member["id_token"])
    mine = call(stack, "GET", "/v1/me/ledger", member["id_token"]).json()["items"]
    seen_by_other = call(stack, "GET", f"/v1/members/{member['id']}/ledger", other["api_key"]).json()["items"]

    assert balance.status_code == 200
    assert (balance.json()["member_id"], balance.json()["available"]) == (member["id"], 70)
    assert (mine[0]["reference"], mine[0]["brand_id"]) == ("welcome gift", brand["id"])
    assert seen_by_other == []  # not even the points: another brand's entries are not in its history


def test_the_privacy_export_carries_the_members_ledger(stack, brand):
    member = sign_up_and_log_in(stack)
    join(stack, brand, member)
    adjust(stack, brand["api_key"], member["id"], {"points": 12, "reason": "export me"})

    export = call(stack, "GET", "/v1/me/export", member["id_token"]).json()
    by_admin = call(stack, "GET", f"/v1/members/{member['id']}/export", stack.credentials["admin_key"]).json()

    assert export["ledger"]["balance"]["posted"] == 12
    assert [(t["points"], t["reference"]) for t in export["ledger"]["transfers"]] == [(12, "export me")]
    assert by_admin["ledger"]["transfers"] == export["ledger"]["transfers"]
