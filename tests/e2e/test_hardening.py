"""Issue 14 replayed against the running stack, as an attacker and a careless client would:
money-safe numbers, bad input, events that can never succeed, the cancellation race.

(The gateway's own hardening, crash-safety and concurrency have their own modules:
``test_gateway_hardening.py``, ``test_local_stack.py``; the coalition rules ``test_isolation.py``.)
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import requests

from tests.e2e.conftest import wait_until
from tests.e2e.helpers import call

pytestmark = pytest.mark.slow

PER_EURO = {"name": "1 point per euro", "status": "active", "trigger": {"event": "purchase"},
            "reward": {"per_unit": {"fact": "event.attributes.amount", "points": 1}}}


@pytest.fixture(scope="module")
def demo(stack):
    """The demo brand's key, its member (logged in) and a per-euro activity."""
    creds = stack.credentials
    token = call(stack, "POST", "/v1/auth/login", json={k: creds["member"][k] for k in ("email", "password")}
                 ).json()["id_token"]
    created = call(stack, "POST", "/v1/activities", creds["brand_key"], json=PER_EURO)
    assert created.status_code == 201, created.text
    return {"key": creds["brand_key"], "member": creds["member"]["id"], "token": token}


def raw(stack, method, path, token, body: str):
    return requests.request(method, stack.credentials["api"] + path, data=body.encode("utf-8", "surrogatepass"),
                            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                     "Idempotency-Key": uuid.uuid4().hex}, timeout=15)


def code(reply) -> str:
    return reply.json()["error"]["code"]


def balance(stack, demo) -> int:
    return call(stack, "GET", f"/v1/members/{demo['member']}/balance", demo["key"]).json()["available"]


def event(demo, amount, key=None) -> str:
    return json.dumps({"type": "purchase", "member_id": demo["member"], "idempotency_key": key or uuid.uuid4().hex,
                       "attributes": {"amount": amount}})


def test_amounts_no_client_holds_exactly_are_refused_at_the_door(stack, demo):
    before = balance(stack, demo)
    for amount in ("1e30", "9223372036854775808", "NaN", "Infinity", "1e400"):
        reply = raw(stack, "POST", "/v1/events", demo["key"], event(demo, "AMOUNT").replace('"AMOUNT"', amount))
        assert reply.status_code == 400, (amount, reply.text)
        assert code(reply) in ("number_out_of_range", "non_finite_number")
    assert balance(stack, demo) == before


def test_an_accepted_event_over_the_program_maximum_settles_rejected_with_its_reason(stack, demo):
    before = balance(stack, demo)
    accepted = raw(stack, "POST", "/v1/events", demo["key"], event(demo, 10**12))
    assert accepted.status_code == 202, accepted.text
    eid = accepted.json()["id"]
    settled = wait_until(lambda: (r := call(stack, "GET", f"/v1/events/{eid}", demo["key"]).json())["status"]
                         != "accepted" and r)
    assert (settled["status"], settled["reason"]) == ("rejected", "points_over_maximum")
    assert settled["details"] == {"activity_id": settled["details"]["activity_id"], "points": 10**12,
                                  "maximum": 1_000_000, "limit": "per_grant"}
    assert balance(stack, demo) == before
    fine = raw(stack, "POST", "/v1/events", demo["key"], event(demo, 25)).json()["id"]
    assert wait_until(lambda: call(stack, "GET", f"/v1/events/{fine}", demo["key"]).json()["status"] == "processed")
    assert balance(stack, demo) == before + 25


def test_adjustments_are_bounded_and_whole_number_floats_are_integers_everywhere(stack, demo):
    path = f"/v1/members/{demo['member']}/adjustments"
    over = call(stack, "POST", path, demo["key"], json={"points": 1_000_001, "reason": "oops"},
                headers={"Idempotency-Key": uuid.uuid4().hex})
    assert (over.status_code, code(over)) == (422, "points_over_maximum")
    huge = raw(stack, "POST", path, demo["key"], '{"points": 9223372036854775807, "reason": "x"}')
    assert (huge.status_code, code(huge)) == (400, "number_out_of_range")
    whole = requests.post(stack.credentials["api"] + path, data='{"points": 100.0, "reason": "gift"}',
                          headers={"Authorization": f"Bearer {demo['key']}", "Content-Type": "application/json",
                                   "Idempotency-Key": uuid.uuid4().hex}, timeout=15)
    assert whole.status_code == 201, whole.text
    assert whole.json()["amount"] == 100
    assert isinstance(whole.json()["amount"], int)
    reward = raw(stack, "POST", "/v1/rewards", demo["key"], '{"name": "Tea", "cost_points": 100.0}')
    assert reward.status_code == 201, reward.text
    stored = call(stack, "GET", f"/v1/rewards/{reward.json()['id']}", demo["key"])
    assert '"cost_points": 100,' in stored.text or '"cost_points":100,' in stored.text  # not 100.0
    half = raw(stack, "POST", path, demo["key"], '{"points": 100.5, "reason": "x"}')
    assert half.status_code == 422


def test_non_finite_numbers_never_reach_the_tiers_or_a_rule(stack, demo):
    admin = stack.credentials["admin_key"]
    tiers = raw(stack, "PUT", "/v1/tiers", admin,
                '{"tiers": [{"id": "blue", "name": "Blue", "threshold": 0, "multiplier": NaN}]}')
    assert (tiers.status_code, code(tiers)) == (400, "non_finite_number")
    assert call(stack, "GET", "/v1/tiers").json() is not None  # still valid JSON
    for field in ('"points": NaN', '"unit": NaN', '"points": Infinity'):
        rule = raw(stack, "POST", "/v1/activities", demo["key"], json.dumps(PER_EURO).replace('"points": 1', field))
        assert rule.status_code == 400, (field, rule.text)
    eid = raw(stack, "POST", "/v1/events", demo["key"], event(demo, 10)).json()["id"]
    assert wait_until(lambda: call(stack, "GET", f"/v1/events/{eid}", demo["key"]).json()["status"] == "processed")
    for amount in ("NaN", "-Infinity"):
        reversal = raw(stack, "POST", f"/v1/events/{eid}/reversal", demo["key"], f'{{"amount": {amount}}}')
        assert (reversal.status_code, code(reversal)) == (400, "non_finite_number")
    assert call(stack, "GET", f"/v1/events/{eid}", demo["key"]).json()["reversals"] == []


def test_deep_nesting_long_ids_and_invisible_names_are_clear_4xx(stack, demo):
    deep = raw(stack, "POST", "/v1/events", demo["key"], '{"a":' * 10_000 + "1" + "}" * 10_000)
    assert (deep.status_code, code(deep)) == (400, "too_deep")
    long_id = "A" * 3000
    for method, path in (("GET", f"/v1/members/{long_id}"), ("GET", f"/v1/members/{long_id}/balance"),
                         ("GET", f"/v1/members/{long_id}/ledger"), ("GET", f"/v1/events/{long_id}"),
                         ("GET", f"/v1/rewards/{long_id}"), ("GET", f"/v1/activities/{long_id}"),
                         ("DELETE", f"/v1/rewards/{long_id}"), ("POST", f"/v1/redemptions/{long_id}/cancellation")):
        reply = call(stack, method, path, demo["key"])
        assert (reply.status_code, code(reply)) == (404, "not_found"), (method, path, reply.text)
    for name in ("\u00a0", "\u200b\u200b", "\ufeff", " \u2060 "):
        reply = call(stack, "POST", "/v1/rewards", demo["key"], json={"name": name, "cost_points": 5})
        assert (reply.status_code, code(reply)) == (422, "validation_failed"), repr(name)
    for body in ('{"name": "A\\u0000B", "cost_points": 5}', '{"name": "\\ud83d", "cost_points": 5}'):
        reply = raw(stack, "POST", "/v1/rewards", demo["key"], body)
        assert (reply.status_code, code(reply)) == (400, "invalid_text")
    trimmed = call(stack, "POST", "/v1/rewards", demo["key"], json={"name": "\ufeff Cake\u200b ", "cost_points": 5})
    assert trimmed.json()["name"] == "Cake"


def test_concurrent_cancellations_answer_200_or_409_and_return_the_points_once(stack, demo):
    given = call(stack, "POST", f"/v1/members/{demo['member']}/adjustments", demo["key"],
                 json={"points": 70, "reason": "for the race"}, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert given.status_code == 201
    reward = call(stack, "POST", "/v1/rewards", demo["key"], json={"name": "Race", "cost_points": 70, "stock": 2})
    redeemed = call(stack, "POST", "/v1/me/redemptions", demo["token"], json={"reward_id": reward.json()["id"]},
                    headers={"Idempotency-Key": uuid.uuid4().hex})
    assert redeemed.status_code == 201, redeemed.text
    before = balance(stack, demo)
    start, statuses = threading.Barrier(10), []

    def cancel():
        start.wait()
        reply = call(stack, "POST", f"/v1/redemptions/{redeemed.json()['id']}/cancellation", demo["key"])
        statuses.append((reply.status_code, reply.json().get("error", {}).get("code")))

    threads = [threading.Thread(target=cancel) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 10
    assert {s for s, _ in statuses} <= {200, 409}, statuses
    assert all(c == "cancellation_in_progress" for s, c in statuses if s == 409)
    assert balance(stack, demo) == before + 70
