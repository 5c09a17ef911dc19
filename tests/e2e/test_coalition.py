"""Coalition trust rules over HTTP (docs/api.md): the issue's attack, step by step, and what
consent, joining and declining change. Brand A created the member and issued their points;
brand B knows the member's e-mail."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.helpers import call, new_brand, new_email, sign_up_and_log_in

pytestmark = pytest.mark.slow


def adjust(stack, key, member_id, points, reason="correction"):
    return call(stack, "POST", f"/v1/members/{member_id}/adjustments", key, json={"points": points, "reason": reason},
                headers={"Idempotency-Key": uuid.uuid4().hex})


@pytest.fixture
def world(stack):
    a, b = new_brand(stack, "Brand A"), new_brand(stack, "Brand B")
    email = new_email()
    created = call(stack, "POST", "/v1/members", a["api_key"], json={"email": email, "name": "Grace Hopper"})
    assert created.status_code == 201, created.text
    member = sign_up_and_log_in(stack, email=email)
    assert member["id"] == created.json()["id"]
    assert adjust(stack, a["api_key"], member["id"], 500, "welcome").status_code == 201
    return {"a": a, "b": b, "member": member, "email": email}


def test_an_email_another_brand_knows_gives_it_nothing(stack, world):
    b, member = world["b"], world["member"]

    invited = call(stack, "POST", "/v1/members", b["api_key"], json={"email": world["email"]})

    assert invited.status_code == 202, invited.text
    assert invited.json()["status"] == "invited"
    assert member["id"] not in invited.text
    assert "Grace" not in invited.text
    mid = member["id"]
    for path in (f"/v1/members/{mid}", f"/v1/members/{mid}/balance", f"/v1/members/{mid}/ledger"):
        assert call(stack, "GET", path, b["api_key"]).status_code == 404, path
    assert adjust(stack, b["api_key"], mid, -500).status_code == 404
    event = call(stack, "POST", "/v1/events", b["api_key"],
                 json={"type": "purchase", "member_id": mid, "idempotency_key": uuid.uuid4().hex})
    assert event.status_code == 404
    lookup = call(stack, "GET", "/v1/members", b["api_key"], params={"email": world["email"]}).json()
    assert lookup["items"] == []
    listed = call(stack, "GET", "/v1/members", b["api_key"], params={"limit": 200}).json()
    assert mid not in str(listed)
    me = call(stack, "GET", "/v1/me", member["id_token"]).json()
    assert b["id"] not in [e["brand_id"] for e in me["enrolments"]]


def test_after_the_member_accepts_the_brand_sees_them_but_only_its_own_history_and_takes_back_only_its_own(
        stack, world):
    a, b, member = world["a"], world["b"], world["member"]
    call(stack, "POST", "/v1/members", b["api_key"], json={"email": world["email"]})
    pending = call(stack, "GET", "/v1/me/invitations", member["id_token"]).json()["items"]
    assert [(i["brand_id"], i["brand_name"], i["status"]) for i in pending] == [(b["id"], "Brand B", "invited")]

    accepted = call(stack, "POST", f"/v1/me/invitations/{b['id']}/acceptance", member["id_token"])

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "enrolled"
    assert call(stack, "GET", "/v1/me/invitations", member["id_token"]).json()["items"] == []
    mid = member["id"]
    assert call(stack, "GET", f"/v1/members/{mid}", b["api_key"]).json()["name"] == "Grace Hopper"
    assert call(stack, "GET", f"/v1/members/{mid}/balance", b["api_key"]).json()["available"] == 500
    assert call(stack, "GET", f"/v1/members/{mid}/ledger", b["api_key"]).json()["items"] == []  # A's entry is A's

    stolen = adjust(stack, b["api_key"], mid, -500)
    assert stolen.status_code == 409, stolen.text
    assert stolen.json()["error"]["code"] == "exceeds_brand_issued"
    assert stolen.json()["error"]["details"] == {"reclaimable": 0, "requested": 500}
    assert adjust(stack, b["api_key"], mid, 100, "goodwill").status_code == 201
    assert adjust(stack, b["api_key"], mid, -100).status_code == 201
    assert adjust(stack, b["api_key"], mid, -1).status_code == 409
    history = call(stack, "GET", f"/v1/members/{mid}/ledger", b["api_key"]).json()["items"]
    assert [(e["points"], e["brand_id"]) for e in history] == [(-100, b["id"]), (100, b["id"])]
    assert call(stack, "GET", "/v1/me/balance", member["id_token"]).json()["available"] == 500
    everything = call(stack, "GET", f"/v1/members/{mid}/ledger", stack.credentials["admin_key"]).json()["items"]
    assert len(everything) == 3  # the admin keeps full access
    assert adjust(stack, stack.credentials["admin_key"], mid, -450, "fraud").status_code == 201
    assert adjust(stack, a["api_key"], mid, -60).status_code == 409  # A issued 500, but only 50 are left


def test_a_brands_history_never_shows_another_brands_redemption(stack, world):
    a, b, member = world["a"], world["b"], world["member"]
    call(stack, "PUT", f"/v1/me/enrolments/{b['id']}", member["id_token"])
    reward = call(stack, "POST", "/v1/rewards", a["api_key"], json={
        "name": "A's coffee", "cost_points": 50, "fulfilment": "generated_code"}).json()
    redemption = call(stack, "POST", "/v1/me/redemptions", member["id_token"], json={"reward_id": reward["id"]},
                      headers={"Idempotency-Key": uuid.uuid4().hex}).json()
    assert redemption["status"] == "fulfilled", redemption

    seen_by_b = call(stack, "GET", f"/v1/members/{member['id']}/ledger", b["api_key"])
    seen_by_a = call(stack, "GET", f"/v1/members/{member['id']}/ledger", a["api_key"]).json()["items"]

    assert seen_by_b.json()["items"] == []
    assert redemption["id"] not in seen_by_b.text
    assert {(e["phase"], e["brand_id"]) for e in seen_by_a} >= {("hold", a["id"]), ("post", a["id"])}


def test_declining_leaves_the_brand_with_nothing_and_joining_enrols_by_the_members_own_act(stack, world):
    b, member = world["b"], world["member"]
    c = new_brand(stack, "Brand C")
    call(stack, "POST", "/v1/members", b["api_key"], json={"email": world["email"]})

    declined = call(stack, "DELETE", f"/v1/me/invitations/{b['id']}", member["id_token"])
    joined = call(stack, "PUT", f"/v1/me/enrolments/{c['id']}", member["id_token"])
    joined_again = call(stack, "PUT", f"/v1/me/enrolments/{c['id']}", member["id_token"])

    assert declined.status_code == 204
    assert call(stack, "DELETE", f"/v1/me/invitations/{b['id']}", member["id_token"]).status_code == 204
    assert call(stack, "GET", f"/v1/members/{member['id']}", b["api_key"]).status_code == 404
    missing = call(stack, "POST", f"/v1/me/invitations/{b['id']}/acceptance", member["id_token"])
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "invitation_not_found")
    assert (joined.status_code, joined_again.status_code) == (201, 200)
    assert joined.json()["source"] == "member"
    assert call(stack, "GET", f"/v1/members/{member['id']}", c["api_key"]).status_code == 200
    unknown = call(stack, "PUT", "/v1/me/enrolments/01JDQ4ZQ0N2V9K8W3X5Y6Z7A8B", member["id_token"])
    assert unknown.status_code == 404


def test_a_member_new_to_the_programme_is_enrolled_with_the_brand_that_created_them(stack):
    b = new_brand(stack, "Brand New")
    created = call(stack, "POST", "/v1/members", b["api_key"], json={"email": new_email(), "name": "New"})

    assert created.status_code == 201
    assert call(stack, "GET", f"/v1/members/{created.json()['id']}", b["api_key"]).json()["name"] == "New"
    assert adjust(stack, b["api_key"], created.json()["id"], 10).status_code == 201


def test_the_admin_enrols_an_existing_member_directly(stack):
    admin = stack.credentials["admin_key"]
    member = sign_up_and_log_in(stack)
    b = new_brand(stack, "Brand Admin-Enrolled")

    enrolled = call(stack, "POST", "/v1/members", admin, json={"email": member["email"], "brand_id": b["id"]})

    assert (enrolled.status_code, enrolled.json()["id"]) == (200, member["id"])
    assert call(stack, "GET", f"/v1/members/{member['id']}", b["api_key"]).status_code == 200
