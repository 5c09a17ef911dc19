"""The earn pipeline on the dev stack: events in over HTTP, SQS, the handler, points out."""

import threading
import uuid

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.helpers import call, new_brand, new_email

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def brand(stack):
    return new_brand(stack, "Events Co")


def activity(stack, brand, body):
    response = call(stack, "POST", "/v1/activities", brand["api_key"], json={"status": "active", **body})
    assert response.status_code == 201, response.text
    return response.json()


def enrol(stack, brand, **extra) -> str:
    response = call(stack, "POST", "/v1/members", brand["api_key"], json={"email": new_email(), **extra})
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def send(stack, brand, member_id, event_type, key=None, **fields):
    body = {"type": event_type, "member_id": member_id, "idempotency_key": key or uuid.uuid4().hex, **fields}
    return call(stack, "POST", "/v1/events", brand["api_key"], json=body)


def processed(stack, brand, event_id, timeout=60):
    def done():
        body = call(stack, "GET", f"/v1/events/{event_id}", brand["api_key"]).json()
        return body if body["status"] != "accepted" else None

    found = wait_until(done, timeout=timeout)
    assert found, f"event {event_id} was not processed in {timeout}s"
    return found


def balance(stack, brand, member_id):
    return call(stack, "GET", f"/v1/members/{member_id}/balance", brand["api_key"]).json()


@pytest.fixture(scope="module")
def purchase(stack, brand):
    return activity(stack, brand, {"name": "1 point per euro", "trigger": {"event": "purchase"},
                                   "reward": {"per_unit": {"fact": "event.attributes.amount", "points": 1}}})


def test_the_same_idempotency_key_three_times_is_one_event_and_one_grant(stack, brand, purchase):
    member_id = enrol(stack, brand)
    replies = [send(stack, brand, member_id, "purchase", "order-1", attributes={"amount": 42.9}) for _ in range(3)]

    assert [r.status_code for r in replies] == [202, 202, 202]
    assert len({r.json()["id"] for r in replies}) == 1
    event = processed(stack, brand, replies[0].json()["id"])
    assert event["status"] == "processed"
    (outcome,) = event["outcomes"]
    assert (outcome["activity_id"], outcome["points"], outcome["status"]) == (purchase["id"], 42, "granted")
    again = send(stack, brand, member_id, "purchase", "order-1", attributes={"amount": 42.9})
    assert again.json() == {"id": event["id"], "status": "processed"}
    assert balance(stack, brand, member_id)["available"] == 42
    changed = send(stack, brand, member_id, "purchase", "order-1", attributes={"amount": 50})
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "exists_with_different_fields"


def test_fifty_concurrent_events_end_in_exactly_the_right_balance(stack, brand, purchase):
    member_id = enrol(stack, brand)
    ids, errors = [], []

    def post(i):
        reply = send(stack, brand, member_id, "purchase", f"c-{member_id}-{i}", attributes={"amount": i + 1})
        (ids if reply.status_code == 202 else errors).append(reply.json().get("id") or reply.text)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert len(set(ids)) == 50
    for event_id in ids:
        processed(stack, brand, event_id)
    assert balance(stack, brand, member_id)["available"] == sum(range(1, 51))
    ledger = call(stack, "GET", f"/v1/members/{member_id}/ledger?limit=100", brand["api_key"]).json()
    assert len(ledger["items"]) == 50
    assert {e["reference"] for e in ledger["items"]} == set(ids)


def test_a_once_per_day_activity_fired_by_twenty_parallel_events_grants_once(stack, brand):
    daily = activity(stack, brand, {"name": "Daily check-in", "trigger": {"event": "app.check_in"},
                                    "reward": {"points": 5},
                                    "limits": [{"scope": "member", "period": "day", "max_times": 1}]})
    member_id = enrol(stack, brand)
    batch = call(stack, "POST", "/v1/events/batch", brand["api_key"], json={"events": [
        {"type": "app.check_in", "member_id": member_id, "idempotency_key": f"d-{member_id}-{i}"} for i in range(20)]})
    assert batch.status_code == 202, batch.text
    ids = [item["id"] for item in batch.json()["items"]]

    events = [processed(stack, brand, event_id) for event_id in ids]

    granted = [o for e in events for o in e["outcomes"] if o["status"] == "granted"]
    skipped = [o for e in events for o in e["outcomes"] if o["status"] == "skipped"]
    assert len(granted) == 1
    assert granted[0]["activity_id"] == daily["id"]
    assert len(skipped) == 19
    assert {o["reason"] for o in skipped} == {"limit_reached"}
    assert balance(stack, brand, member_id)["available"] == 5


def test_a_batch_reports_each_event_on_its_own(stack, brand, purchase):
    external = f"crm-{uuid.uuid4().hex[:8]}"
    member_id = enrol(stack, brand, external_id=external)
    reply = call(stack, "POST", "/v1/events/batch", brand["api_key"], json={"events": [
        {"type": "purchase", "external_id": external, "idempotency_key": "b-1", "attributes": {"amount": 10}},
        {"type": "purchase", "external_id": "nobody", "idempotency_key": "b-2"},
        {"type": "Purchase!", "member_id": member_id, "idempotency_key": "b-3"},
    ]})

    assert reply.status_code == 202, reply.text
    first, missing, malformed = reply.json()["items"]
    assert first["status"] == "accepted"
    assert (missing["status"], missing["error"]["code"]) == ("error", "member_not_found")
    assert (malformed["error"]["code"], malformed["error"]["details"]["pointer"]) == ("validation_failed",
                                                                                     "/events/2/type")
    assert processed(stack, brand, first["id"])["outcomes"][0]["points"] == 10


def test_a_refund_reverses_in_proportion_never_twice(stack, brand, purchase):
    member_id = enrol(stack, brand)
    event_id = send(stack, brand, member_id, "purchase", attributes={"amount": 100}).json()["id"]
    processed(stack, brand, event_id)
    path, key = f"/v1/events/{event_id}/reversal", brand["api_key"]

    partial = call(stack, "POST", path, key, json={"amount": 25}, headers={"Idempotency-Key": "refund-1"})
    retried = call(stack, "POST", path, key, json={"amount": 25}, headers={"Idempotency-Key": "refund-1"})
    keyless = call(stack, "POST", path, key, json={"amount": 5})
    rest = call(stack, "POST", path, key, json={})
    after = call(stack, "POST", path, key, json={}, headers={"Idempotency-Key": "refund-2"})

    assert partial.status_code == 201
    assert partial.json()["points"] == 25
    assert retried.json() == partial.json()
    assert keyless.status_code == 400
    assert keyless.json()["error"]["code"] == "idempotency_key_required"
    assert rest.status_code == 201
    assert rest.json()["points"] == 75
    assert after.status_code == 409
    assert after.json()["error"]["code"] == "already_reversed"
    assert balance(stack, brand, member_id)["available"] == 0
    event = call(stack, "GET", f"/v1/events/{event_id}", key).json()
    assert [r["points"] for r in event["reversals"]] == [25, 75]


def test_events_for_strangers_and_other_brands_are_refused(stack, brand, purchase):
    other = new_brand(stack, "Other Co")
    outsider = enrol(stack, other)
    mine = enrol(stack, brand)
    event_id = send(stack, brand, mine, "purchase", attributes={"amount": 3}).json()["id"]

    refused = send(stack, brand, outsider, "purchase")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "member_not_found"
    assert call(stack, "GET", f"/v1/events/{event_id}", other["api_key"]).status_code == 404
    assert call(stack, "POST", f"/v1/events/{event_id}/reversal", other["api_key"], json={}).status_code == 404
