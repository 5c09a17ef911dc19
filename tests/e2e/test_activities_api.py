"""Activities over HTTP: versions, field-precise errors, simulation, what members see."""

import pytest

from tests.e2e.helpers import call, member_of, new_brand

pytestmark = pytest.mark.slow

PER_EURO = {"name": "Points per euro", "channel": "online", "status": "active", "trigger": {"event": "purchase"},
            "reward": {"per_unit": {"fact": "event.attributes.amount", "points": 1}, "multipliers": {"gold": 2}}}


@pytest.fixture(scope="module")
def brand(stack):
    return new_brand(stack, "Rules Co")


def create(stack, brand, body):
    response = call(stack, "POST", "/v1/activities", brand["api_key"], json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_every_change_is_a_new_version_and_archiving_is_idempotent(stack, brand):
    key = brand["api_key"]
    created = create(stack, brand, {"name": "Newsletter", "trigger": {"event": "newsletter.signup"},
                                    "reward": {"points": 25}})
    path = f"/v1/activities/{created['id']}"

    changed = call(stack, "PUT", path, key, json={"name": "Newsletter", "trigger": {"event": "newsletter.signup"},
                                                  "reward": {"points": 30}, "status": "active"}).json()
    same = call(stack, "PUT", path, key, json={"name": "Newsletter", "trigger": {"event": "newsletter.signup"},
                                               "reward": {"points": 30}, "status": "active"}).json()
    archived = call(stack, "DELETE", path, key).json()
    again = call(stack, "DELETE", path, key).json()

    assert (created["version"], created["status"], created["channel"]) == (1, "draft", "other")
    assert (changed["version"], changed["reward"], changed["status"]) == (2, {"points": 30}, "active")
    assert same["version"] == 2
    assert (archived["version"], archived["status"]) == (3, "archived")
    assert again == archived
    assert call(stack, "GET", path, key).json() == archived


@pytest.mark.parametrize(("change", "pointer"), [
    ({"conditions": {"all": [{"fact": "event.attrs.amount", "operator": ">", "value": 1}]}}, "/conditions/all/0/fact"),
    ({"conditions": {"all": [{"fact": "event.type", "operator": "~", "value": 1}]}}, "/conditions/all/0/operator"),
    ({"schedule": {"timezone": "Mars/Olympus"}}, "/schedule/timezone"),
    ({"reward": {"points": 0}}, "/reward/points"),
    ({"limits": [{"scope": "member", "period": "day"}]}, "/limits/0"),
    ({"bonus": 1}, ""),
])
def test_a_bad_activity_is_refused_naming_the_field(stack, brand, change, pointer):
    response = call(stack, "POST", "/v1/activities", brand["api_key"], json={**PER_EURO, **change})

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert response.json()["error"]["details"]["pointer"] == pointer


def test_simulation_explains_each_activity_and_tries_drafts(stack, brand):
    key = brand["api_key"]
    create(stack, brand, {**PER_EURO, "name": "Sim per euro", "trigger": {"event": "sim.purchase"}})
    create(stack, brand, {**PER_EURO, "name": "Sim weekend", "trigger": {"event": "sim.purchase"},
                          "reward": {"points": 100}, "schedule": {"days": ["sat", "sun"], "timezone": "UTC"}})
    event = {"type": "sim.purchase", "occurred_at": "2026-11-24T12:00:00Z", "attributes": {"amount": 19.99}}

    live = call(stack, "POST", "/v1/activities/simulate", key, json={"event": event, "member": {"tier": "gold"}})
    draft = call(stack, "POST", "/v1/activities/simulate", key, json={
        "event": event, "activity": {"name": "Big spender", "trigger": {"event": "sim.purchase"},
                                     "conditions": {"fact": "event.attributes.amount", "operator": ">=", "value": 50},
                                     "reward": {"points": 500}}})
    broken = call(stack, "POST", "/v1/activities/simulate", key, json={
        "event": event, "activity": {"name": "x", "trigger": {"event": "sim.purchase"}, "reward": {"points": 5},
                                     "schedule": {"timezone": "Nowhere/City"}}})

    assert live.status_code == 200, live.text
    body = live.json()
    assert body["points"] == 39  # floor(19.99 x 2) for gold, rounded once; the weekend one does not pay Tuesdays
    reasons = {a["name"]: a["reason"] for a in body["activities"]}
    assert reasons["Sim per euro"] is None
    assert reasons["Sim weekend"] == "outside_days"
    assert draft.json()["points"] == 0
    assert draft.json()["activities"][0]["reason"] == "conditions_not_met"
    assert broken.status_code == 422
    assert broken.json()["error"]["details"]["pointer"] == "/activity/schedule/timezone"


def test_members_see_the_active_activities_of_their_brands_by_channel(stack, brand):
    member = member_of(stack, brand)
    active = create(stack, brand, {**PER_EURO, "name": "Visible", "channel": "in_store"})
    create(stack, brand, {**PER_EURO, "name": "Hidden draft", "channel": "in_store", "status": "draft"})
    stranger = call(stack, "POST", "/v1/brands", stack.credentials["admin_key"], json={"name": "Stranger"}).json()
    create(stack, stranger, {**PER_EURO, "name": "Not my brand", "channel": "in_store"})

    seen = call(stack, "GET", "/v1/activities?channel=in_store", member["id_token"])
    wrong = call(stack, "GET", "/v1/activities?channel=carrier-pigeon", member["id_token"])

    assert seen.status_code == 200
    assert [(a["id"], a["name"]) for a in seen.json()["items"]] == [(active["id"], "Visible")]
    assert "conditions" not in seen.json()["items"][0]
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "invalid_parameter"


def test_templates_create_draft_activities_from_parameters(stack, brand):
    key = brand["api_key"]
    listed = call(stack, "GET", "/v1/activities/templates", key).json()["items"]

    used = call(stack, "POST", "/v1/activities/templates/referral", key, json={"parameters": {"referrer_points": 700}})
    bad = call(stack, "POST", "/v1/activities/templates/social", key, json={"parameters": {"network": "myspace"}})
    missing = call(stack, "POST", "/v1/activities/templates/no-such", key, json={})

    assert {"purchase", "newsletter", "referral", "social", "milestone"} <= {t["id"] for t in listed}
    assert used.status_code == 201, used.text
    created = used.json()["items"]
    assert [(a["trigger"]["event"], a["reward"], a["status"]) for a in created] == [
        ("referral.completed", {"points": 700}, "draft"), ("referral.joined", {"points": 250}, "draft")]
    assert call(stack, "GET", f"/v1/activities/{created[0]['id']}", key).status_code == 200
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["pointer"] == "/parameters/network"
    assert missing.status_code == 404
