"""The brand dashboard's figures over HTTP: events, grants, refunds, adjustments and
redemptions flow through the queues into exact per-day counters, each brand its own."""

import uuid

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.helpers import call, member_of, new_brand

pytestmark = pytest.mark.slow


def test_the_dashboard_counts_what_happened_to_the_brand_and_only_to_it(stack):
    brand, other = new_brand(stack, "Dashboard Co"), new_brand(stack, "Elsewhere Co")
    key = brand["api_key"]
    like = call(stack, "POST", "/v1/activities", key, json={
        "name": "Like our post", "channel": "facebook", "status": "active", "trigger": {"event": "social.like"},
        "reward": {"points": 10}}).json()
    spend = call(stack, "POST", "/v1/activities", key, json={
        "name": "Spend in store", "channel": "in_store", "status": "active", "trigger": {"event": "purchase"},
        "reward": {"per_unit": {"fact": "event.attributes.amount", "points": 1}}}).json()
    member = member_of(stack, brand)

    def send(event_type, **body):
        sent = call(stack, "POST", "/v1/events", key, json={
            "type": event_type, "member_id": member["id"], "idempotency_key": uuid.uuid4().hex, **body})
        assert sent.status_code == 202, sent.text
        return sent.json()["id"]

    send("social.like")
    send("social.like")
    purchase = send("purchase", attributes={"amount": 80})
    send("newsletter.opened", channel="newsletter")  # no activity pays for it: counted, earns nothing
    send("purchase", attributes={"amount": 5}, idempotency_key="same-twice")
    send("purchase", attributes={"amount": 5}, idempotency_key="same-twice")  # a replay is one event
    assert wait_until(lambda: call(stack, "GET", f"/v1/events/{purchase}", key).json()["status"] == "processed")
    refund = call(stack, "POST", f"/v1/events/{purchase}/reversal", key, json={"amount": 20},
                  headers={"Idempotency-Key": "r1"})
    assert refund.status_code == 201, refund.text
    adjusted = call(stack, "POST", f"/v1/members/{member['id']}/adjustments", key,
                    json={"points": 15, "reason": "goodwill"}, headers={"Idempotency-Key": "a1"})
    assert adjusted.status_code == 201, adjusted.text
    reward = call(stack, "POST", "/v1/rewards", key, json={"name": "Coffee", "cost_points": 30}).json()
    redeemed = call(stack, "POST", "/v1/me/redemptions", member["id_token"], json={"reward_id": reward["id"]},
                    headers={"Idempotency-Key": uuid.uuid4().hex})
    assert redeemed.status_code == 201, redeemed.text

    def caught_up():
        body = call(stack, "GET", "/v1/analytics/daily?days=7", key).json()
        return body if body["totals"]["redemptions"] == 1 and body["totals"]["events"] == 5 \
            and body["totals"]["points_reversed"] and body["totals"]["points_added"] else None

    found = wait_until(caught_up, timeout=60)
    assert found, call(stack, "GET", "/v1/analytics/daily?days=7", key).json()
    assert found["totals"] == {"events": 5, "rejected_events": 0, "failed_events": 0,
                               "points_issued": 105, "points_reversed": 20,
                               "points_redeemed": 30, "redemptions": 1, "points_returned": 0, "cancellations": 0,
                               "points_added": 15, "points_deducted": 0}
    assert len(found["days"]) == 7
    assert found["days"][-1]["date"] == found["to"]
    assert found["days"][-1]["points_issued"] == 105  # all of it happened today
    assert found["channels"] == [{"channel": "facebook", "events": 2}, {"channel": "in_store", "events": 2},
                                 {"channel": "newsletter", "events": 1}]
    assert found["top_activities"] == [{"activity_id": spend["id"], "name": "Spend in store", "points": 85},
                                       {"activity_id": like["id"], "name": "Like our post", "points": 20}]

    elsewhere = call(stack, "GET", "/v1/analytics/daily", other["api_key"]).json()
    assert elsewhere["totals"]["events"] == 0
    assert elsewhere["channels"] == []
    assert len(elsewhere["days"]) == 30


@pytest.mark.parametrize("query", ["days=0", "days=367", "days=week", "day=7"])
def test_a_bad_range_is_a_400_naming_the_parameter(stack, query):
    brand = new_brand(stack, "Range Co")
    refused = call(stack, "GET", f"/v1/analytics/daily?{query}", brand["api_key"])
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["parameter"] in ("days", "day")
