"""The isolation matrix: every authorized route, every wrong credential, from the route table.

Expected (documented in openapi.json and docs/api.md): no, malformed or expired credential
→ 401; a valid credential of a role the route does not serve → 403; another brand's resource
→ 404 (or 403 where the route is admin-only). Never 2xx, never 5xx. Member routes (/v1/me…)
only ever show the caller's own data.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.helpers import call, claims_of, forged_token, new_email, sign_up_and_log_in

pytestmark = pytest.mark.slow


_ROUTE_TABLE = """
import json, app
print(json.dumps(sorted([method, path, list(entry.view_function.__wrapped_roles__)]
                        for path, methods in app.app.routes.items() for method, entry in methods.items()
                        if entry.authorizer is not None)))
"""


def authorized_routes() -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, roles) of every route behind the authorizer, read from the app itself.

    Read in a child interpreter: importing the app here would fix its queue names (read at
    import, as Chalice needs) before other test modules set their environment.
    """
    out = subprocess.run([sys.executable, "-c", _ROUTE_TABLE], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return [(method, path, tuple(roles)) for method, path, roles in json.loads(out)]


ROUTES = authorized_routes()


@pytest.fixture(scope="module")
def world(stack):
    """A victim brand with a member and a key, and an attacker brand and member."""
    admin = stack.credentials["admin_key"]
    victim = call(stack, "POST", "/v1/brands", admin, json={"name": "Victim"}).json()
    attacker = call(stack, "POST", "/v1/brands", admin, json={"name": "Attacker"}).json()
    victim_member = call(stack, "POST", "/v1/members", victim["api_key"], json={"email": new_email()}).json()
    victim_activity = call(stack, "POST", "/v1/activities", victim["api_key"], json={
        "name": "Victim's rule", "status": "active", "trigger": {"event": "purchase"}, "reward": {"points": 5}}).json()
    victim_event = call(stack, "POST", "/v1/events", victim["api_key"], json={
        "type": "purchase", "member_id": victim_member["id"], "idempotency_key": "victim-order"}).json()
    attacker_member = sign_up_and_log_in(stack)
    victim_login = sign_up_and_log_in(stack)
    victim_reward = call(stack, "POST", "/v1/rewards", victim["api_key"], json={
        "name": "Victim's reward", "cost_points": 5, "fulfilment": "generated_code"}).json()
    call(stack, "POST", "/v1/members", victim["api_key"], json={"email": victim_login["email"]})  # an invitation
    accepted = call(stack, "POST", f"/v1/me/invitations/{victim['id']}/acceptance", victim_login["id_token"])
    assert accepted.status_code == 200, accepted.text
    invited = call(stack, "POST", "/v1/members", attacker["api_key"], json={"email": victim_login["email"]})
    assert invited.status_code == 202, invited.text  # the attacker knows the e-mail: it gets an invitation, no more
    call(stack, "POST", f"/v1/members/{victim_login['id']}/adjustments", victim["api_key"],
         json={"points": 10, "reason": "seed"}, headers={"Idempotency-Key": "victim-seed"})
    victim_redemption = call(stack, "POST", "/v1/me/redemptions", victim_login["id_token"],
                             json={"reward_id": victim_reward["id"]}, headers={"Idempotency-Key": "victim"}).json()
    assert victim_redemption["status"] == "fulfilled", victim_redemption
    expired = forged_token(claims_of(attacker_member["id_token"]), expired=True)
    return {
        "params": {"brand_id": victim["id"], "member_id": victim_member["id"], "key_id": victim["key"]["id"],
                   "activity_id": victim_activity["id"], "template_id": "newsletter",
                   "event_id": victim_event["id"], "reward_id": victim_reward["id"],
                   "redemption_id": victim_redemption["id"]},
        "victim": victim, "victim_member": victim_member, "victim_login": victim_login, "attacker": attacker,
        "attacker_key": attacker["api_key"], "attacker_member": attacker_member, "expired": expired,
    }


def fill(path: str, params: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)


def request(stack, method, path, authorization=None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return call(stack, method, path, headers=headers, **kwargs)


def assert_refused(response, allowed: set[int]):
    assert response.status_code in allowed, (response.status_code, response.text)
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_no_or_bad_credentials_are_401(stack, world, method, path, roles):
    url = fill(path, world["params"])
    for authorization in (None, "", "Bearer", "Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer pcb_short",
                          "Bearer pca_not-the-admin-key", "Bearer a.b.c", f"Bearer {world['expired']}"):
        assert_refused(request(stack, method, url, authorization), {401})


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_another_brands_key_never_reaches_the_victims_data(stack, world, method, path, roles):
    response = request(stack, method, fill(path, world["params"]), f"Bearer {world['attacker_key']}")

    if "brand" not in roles:
        assert_refused(response, {403})
    elif re.search(r"\{(?!template_id\})\w+\}", path):  # names one of the victim's resources (templates are shared)
        assert_refused(response, {404})
    else:  # a collection route: allowed, but it only ever touches the caller's own brand
        assert response.status_code < 500
        assert world["victim"]["id"] not in response.text


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_a_member_token_only_reaches_member_routes_and_only_its_own_data(stack, world, method, path, roles):
    caller = world["attacker_member"]
    if (method, path) == ("DELETE", "/v1/me"):
        caller = sign_up_and_log_in(stack)  # erasure is for real: use a member made for it
    response = request(stack, method, fill(path, world["params"]), f"Bearer {caller['id_token']}")

    if "member" in roles:
        assert response.status_code < 500
        for foreign in (world["victim_member"]["id"], world["victim_login"]["id"], world["victim_login"]["email"]):
            assert foreign not in response.text
        victim = world["victim_login"]
        still = call(stack, "POST", "/v1/auth/login", json={"email": victim["email"], "password": victim["password"]})
        assert still.status_code == 200
    else:
        assert_refused(response, {403})


MEMBER_ROUTES = [(m, p, r) for m, p, r in ROUTES if "{member_id}" in p and "brand" in r]


@pytest.mark.parametrize(("method", "path", "roles"), MEMBER_ROUTES, ids=[f"{m} {p}" for m, p, _ in MEMBER_ROUTES])
def test_a_brand_that_only_invited_the_member_reaches_nothing_of_theirs(stack, world, method, path, roles):
    """Coalition trust rules: an e-mail a brand knows gives it nothing until the member consents."""
    params = {**world["params"], "member_id": world["victim_login"]["id"]}
    response = request(stack, method, fill(path, params), f"Bearer {world['attacker_key']}")

    assert_refused(response, {404})
    assert world["victim_login"]["email"] not in response.text


def test_the_matrix_covers_every_authorized_route():
    assert len(ROUTES) >= 12
    assert {roles for _, _, roles in ROUTES} >= {("admin",), ("member",), ("brand", "admin")}
