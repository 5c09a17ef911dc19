"""Members over HTTP: Cognito sign-up and login, /v1/me, brand-created members and enrolment."""

import pytest

from tests.e2e.helpers import call, claims_of, forged_token, new_brand, new_email, sign_up_and_log_in

pytestmark = pytest.mark.slow


def test_sign_up_log_in_use_me_and_refresh(stack):
    member = sign_up_and_log_in(stack)

    me = call(stack, "GET", "/v1/me", member["id_token"])
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["email"]) == (member["id"], member["email"])

    refreshed = call(stack, "POST", "/v1/auth/refresh", json={"refresh_token": member["refresh_token"]})
    assert refreshed.status_code == 200
    assert call(stack, "GET", "/v1/me", refreshed.json()["id_token"]).json()["id"] == member["id"]


def test_the_demo_member_logs_in_with_the_written_credentials(stack):
    demo = stack.credentials["member"]

    tokens = call(stack, "POST", "/v1/auth/login", json={"email": demo["email"], "password": demo["password"]})

    assert tokens.status_code == 200
    me = call(stack, "GET", "/v1/me", tokens.json()["id_token"]).json()
    assert stack.credentials["brand_id"] in [e["brand_id"] for e in me["enrolments"]]


@pytest.mark.parametrize(("email", "password"), [("nobody@example.com", "whatever-1"), (None, "wrong-password")])
def test_wrong_login_and_unknown_email_look_the_same(stack, email, password):
    demo = stack.credentials["member"]

    response = call(stack, "POST", "/v1/auth/login", json={"email": email or demo["email"], "password": password})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_a_sign_up_with_a_taken_email_looks_like_any_sign_up_and_changes_nothing(stack):
    member = sign_up_and_log_in(stack)
    fresh = call(stack, "POST", "/v1/auth/signup", json={"email": new_email(), "password": "another-pass"})

    again = call(stack, "POST", "/v1/auth/signup", json={"email": member["email"], "password": "another-pass"})

    assert (again.status_code, set(again.json())) == (fresh.status_code, set(fresh.json())) == (201, {
        "id", "email", "confirmation_required"})
    assert again.json()["confirmation_required"] == fresh.json()["confirmation_required"]
    assert again.json()["id"] != member["id"]  # names no one
    hijack = call(stack, "POST", "/v1/auth/login", json={"email": member["email"], "password": "another-pass"})
    assert (hijack.status_code, hijack.json()["error"]["code"]) == (401, "invalid_credentials")
    owner = call(stack, "POST", "/v1/auth/login", json={"email": member["email"], "password": member["password"]})
    assert owner.status_code == 200


def test_confirming_a_taken_or_unknown_email_looks_like_a_wrong_code(stack):
    member = sign_up_and_log_in(stack)
    for email in (member["email"], new_email()):
        response = call(stack, "POST", "/v1/auth/confirm", json={"email": email, "code": "123456"})
        assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_credentials"), email


def test_patch_me_changes_profile_and_timestamps_consents(stack):
    member = sign_up_and_log_in(stack)

    response = call(stack, "PATCH", "/v1/me", member["id_token"], json={
        "name": "Ada", "profile": {"city": "Delft", "birth_date": "1990-04-01", "interests": ["coffee"]},
        "consents": {"email": True}})

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["profile"]["city"], body["profile"]["birth_date"]) == ("Ada", "Delft", "1990-04-01")
    assert body["consents"]["email"]["granted"] is True
    assert body["consents"]["email"]["updated_at"]


@pytest.mark.parametrize("changes", [{"email": "x@y.z"}, {"name": "A", "role": "admin"}, {},
                                     {"profile": {"birth_date": "not a date"}}])
def test_patch_me_refuses_what_it_may_not_change(stack, changes):
    member = sign_up_and_log_in(stack)

    response = call(stack, "PATCH", "/v1/me", member["id_token"], json=changes)

    assert response.status_code == 422


def test_a_brand_created_member_signs_up_and_keeps_their_id(stack):
    email = new_email()
    created = call(stack, "POST", "/v1/members", stack.credentials["brand_key"],
                   json={"email": email, "name": "Bo", "external_id": "CRM-42"})
    assert created.status_code == 201

    member = sign_up_and_log_in(stack, email=email)

    assert member["id"] == created.json()["id"]
    assert claims_of(member["id_token"])["cognito:username"] == member["id"]


def test_a_second_brand_invites_an_existing_member_and_learns_nothing_until_they_accept(stack):
    admin = stack.credentials["admin_key"]
    other = call(stack, "POST", "/v1/brands", admin, json={"name": "Second brand"}).json()
    email = new_email()
    first = call(stack, "POST", "/v1/members", stack.credentials["brand_key"], json={"email": email, "name": "Ada"})
    member = sign_up_and_log_in(stack, email=email)

    invited = call(stack, "POST", "/v1/members", other["api_key"], json={"email": email.upper(), "external_id": "S-1"})
    again = call(stack, "POST", "/v1/members", other["api_key"], json={"email": email})

    assert invited.status_code == again.status_code == 202
    assert invited.json() == again.json()
    assert set(invited.json()) == {"status", "brand_id", "external_id", "invited_at"}
    assert first.json()["id"] not in invited.text
    assert "Ada" not in invited.text
    assert call(stack, "GET", f"/v1/members/{member['id']}", other["api_key"]).status_code == 404
    accepted = call(stack, "POST", f"/v1/me/invitations/{other['id']}/acceptance", member["id_token"])
    assert accepted.status_code == 200
    seen = call(stack, "GET", f"/v1/members/{member['id']}", other["api_key"]).json()
    assert (seen["name"], seen["enrolment"]["external_id"]) == ("Ada", "S-1")
    once_more = call(stack, "POST", "/v1/members", other["api_key"], json={"email": email})
    assert (once_more.status_code, once_more.json()["error"]["code"]) == (409, "member_exists")


def test_a_brand_sees_only_members_enrolled_with_it(stack):
    admin = stack.credentials["admin_key"]
    other_key = call(stack, "POST", "/v1/brands", admin, json={"name": "Third brand"}).json()["api_key"]
    theirs = call(stack, "POST", "/v1/members", other_key, json={"email": new_email()}).json()

    response = call(stack, "GET", f"/v1/members/{theirs['id']}", stack.credentials["brand_key"])

    assert response.status_code == 404
    assert call(stack, "GET", f"/v1/members/{theirs['id']}", admin).status_code == 200


@pytest.mark.parametrize("kind", ["expired", "stranger", "wrong_audience"])
def test_bad_member_tokens_are_401(stack, kind):
    member = sign_up_and_log_in(stack)
    claims = claims_of(member["id_token"])
    if kind == "wrong_audience":
        claims["aud"] = "someone-else"
    token = forged_token(claims, expired=kind == "expired", key="stranger" if kind == "stranger" else "moto")

    response = call(stack, "GET", "/v1/me", token)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_member_export_and_erasure(stack):
    member = sign_up_and_log_in(stack)
    call(stack, "PATCH", "/v1/me", member["id_token"], json={"name": "Erase Me", "profile": {"city": "Gouda"}})

    export = call(stack, "GET", "/v1/me/export", member["id_token"])
    assert export.status_code == 200
    assert "Gouda" in export.text

    erased = call(stack, "DELETE", "/v1/me", member["id_token"])
    assert erased.status_code == 200
    assert erased.json()["status"] == "deleted"
    assert erased.json()["email"] is None
    login = call(stack, "POST", "/v1/auth/login", json={"email": member["email"], "password": member["password"]})
    assert login.status_code == 401
    after = call(stack, "GET", f"/v1/members/{member['id']}/export", stack.credentials["admin_key"])
    assert after.status_code == 200
    assert "Gouda" not in after.text
    assert member["email"] not in after.text


def test_a_brand_pages_through_its_members_and_only_its_members(stack):
    admin = stack.credentials["admin_key"]
    brand = call(stack, "POST", "/v1/brands", admin, json={"name": "Pager"}).json()
    created = {call(stack, "POST", "/v1/members", brand["api_key"], json={"email": new_email()}).json()["id"]
               for _ in range(7)}

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = call(stack, "GET", "/v1/members", brand["api_key"], params=params).json()
        seen += [m["id"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break

    assert set(seen) == created
    assert len(seen) == len(created)  # no duplicates across pages
    assert pages >= 3
    as_admin = call(stack, "GET", "/v1/members", admin, params={"brand_id": brand["id"], "limit": 200}).json()
    assert {m["id"] for m in as_admin["items"]} == created


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"cursor": "%%%"},
                                    {"cursor": "bm90IGpzb24"}])
def test_bad_paging_parameters_are_400(stack, params):
    response = call(stack, "GET", "/v1/members", stack.credentials["brand_key"], params=params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_limit", "invalid_cursor")


def test_the_admin_must_say_whose_members(stack):
    response = call(stack, "GET", "/v1/members", stack.credentials["admin_key"])

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "brand_id_required"


def test_a_brand_looks_up_its_member_by_email_or_external_id_and_never_anothers(stack):
    mine, other = new_brand(stack, "Lookup Co"), new_brand(stack, "Other Lookup Co")
    email = new_email()
    created = call(stack, "POST", "/v1/members", mine["api_key"], json={"email": email, "external_id": "crm-7"}).json()
    theirs = call(stack, "POST", "/v1/members", other["api_key"], json={"email": new_email()}).json()

    by_email = call(stack, "GET", f"/v1/members?email={email.upper()}", mine["api_key"]).json()["items"]
    by_external = call(stack, "GET", "/v1/members?external_id=crm-7", mine["api_key"]).json()["items"]
    foreign = call(stack, "GET", f"/v1/members?email={theirs['email']}", mine["api_key"]).json()["items"]

    assert [m["id"] for m in by_email] == [created["id"]]
    assert [m["id"] for m in by_external] == [created["id"]]
    assert foreign == []
