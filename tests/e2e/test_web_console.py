"""The brand console in a real browser against the dev stack: log in with a brand key, create
an activity (the API's validation shown by the form), simulate it, activate it; a reward and
its voucher codes; a member looked up, adjusted; the dashboard's charts drawn from the API's
figures."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import shot, wait_until
from tests.e2e.helpers import call, member_of, new_brand, new_email

pytestmark = pytest.mark.slow


def test_a_brand_manages_its_program_in_the_console(stack, page):
    from playwright.sync_api import expect

    api, brand = stack.credentials["api"], new_brand(stack, "Console Co")
    email = new_email()
    member = call(stack, "POST", "/v1/members", brand["api_key"], json={"email": email, "name": "Grace"}).json()

    page.goto(api + "/console.html")
    page.get_by_label("Brand API key").fill("pcb_not-a-key")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("That key is not valid.")
    page.get_by_label("Brand API key").fill(brand["api_key"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()  # where a brand lands
    page.get_by_role("link", name="Activities").click()
    expect(page.get_by_role("heading", name="Activities")).to_be_visible()

    page.get_by_label("Name").fill("Join the newsletter")
    page.get_by_label("Event type that triggers it").fill("Not An Event Type!")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("trigger/event")  # the API's pointer, shown
    page.get_by_label("Event type that triggers it").fill("newsletter.joined")
    page.get_by_label("Points").fill("40")
    page.get_by_role("button", name="Simulate").click()
    expect(page.get_by_test_id("simulation")).to_contain_text("would earn 40 pts")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("activity-list")).to_contain_text("draft")
    shot(page, "console-activities")
    page.get_by_role("button", name="Activate Join the newsletter").click()
    expect(page.get_by_test_id("activity-list")).to_contain_text("active")
    listed = call(stack, "GET", "/v1/activities", brand["api_key"]).json()["items"]
    assert [(a["name"], a["status"]) for a in listed] == [("Join the newsletter", "active")]

    page.get_by_role("link", name="Rewards").click()
    expect(page.get_by_role("heading", name="Rewards")).to_be_visible()
    page.get_by_label("Name").fill("Tote bag")
    page.get_by_label("Cost in points").fill("300")
    page.get_by_role("button", name="Save reward").click()
    page.get_by_label("Voucher codes for Tote bag, one a line").fill("TOTE-1\nTOTE-2\nTOTE-1\n")
    page.get_by_role("button", name="Upload codes for Tote bag").click()
    expect(page.get_by_role("status")).to_contain_text("2 codes added, 1 duplicates skipped")
    expect(page.get_by_test_id("reward-list")).to_contain_text("2 left")
    shot(page, "console-rewards")

    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    page.get_by_label("Member e-mail").fill(email)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("member")).to_contain_text("Grace")
    page.get_by_label("Points (negative to take away)").fill("75")
    page.get_by_label("Reason").fill("Sorry for the delay")
    page.get_by_role("button", name="Adjust").click()
    expect(page.get_by_test_id("member-available")).to_have_text("75")
    expect(page.get_by_test_id("member")).to_contain_text("Sorry for the delay")
    shot(page, "console-members")
    assert call(stack, "GET", f"/v1/members/{member['id']}/balance", brand["api_key"]).json()["available"] == 75


def test_the_dashboard_charts_points_issued_and_redeemed_events_per_channel_and_top_activities(stack, page):
    from playwright.sync_api import expect

    api, brand = stack.credentials["api"], new_brand(stack, "Chart Co")
    key = brand["api_key"]
    for name, channel, event, points in (("Like us", "facebook", "social.like", 10),
                                         ("Buy online", "online", "order.placed", 120)):
        created = call(stack, "POST", "/v1/activities", key, json={
            "name": name, "channel": channel, "status": "active", "trigger": {"event": event},
            "reward": {"points": points}})
        assert created.status_code == 201, created.text
    member = member_of(stack, brand)
    for event in ("social.like", "social.like", "social.like", "order.placed"):
        sent = call(stack, "POST", "/v1/events", key, json={"type": event, "member_id": member["id"],
                                                          "idempotency_key": uuid.uuid4().hex})
        assert sent.status_code == 202, sent.text
    per_euro = call(stack, "POST", "/v1/activities", key, json={
        "name": "Per euro", "channel": "online", "status": "active", "trigger": {"event": "purchase"},
        "reward": {"per_unit": {"fact": "event.attributes.amount", "points": 1}}})
    assert per_euro.status_code == 201, per_euro.text
    huge = call(stack, "POST", "/v1/events", key, json={"type": "purchase", "member_id": member["id"],
                                                        "idempotency_key": uuid.uuid4().hex,
                                                        "attributes": {"amount": 10**12}})  # over the maximum
    assert huge.status_code == 202, huge.text
    reward = call(stack, "POST", "/v1/rewards", key, json={"name": "Mug", "cost_points": 100}).json()
    assert wait_until(lambda: call(stack, "GET", "/v1/me/balance", member["id_token"]).json()["available"] == 150)
    redeemed = call(stack, "POST", "/v1/me/redemptions", member["id_token"], json={"reward_id": reward["id"]},
                    headers={"Idempotency-Key": uuid.uuid4().hex})
    assert redeemed.status_code == 201, redeemed.text
    # the analytics consumer counts each domain event from its own queue, in whatever order
    # its batches come: wait for all of them, not the first few
    assert wait_until(lambda: (t := call(stack, "GET", "/v1/analytics/daily?days=7", key).json()["totals"])
                      ["redemptions"] and t["rejected_events"] and t["points_issued"] == 150 and t["events"] == 5)

    page.set_viewport_size({"width": 1280, "height": 900})  # a brand at a desk
    page.goto(api + "/console.html")
    page.get_by_label("Brand API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("kpi-issued")).to_have_text("150")
    expect(page.get_by_test_id("kpi-redeemed")).to_have_text("100")
    expect(page.get_by_test_id("kpi-events")).to_have_text("5")
    expect(page.get_by_test_id("event-problems")).to_contain_text("1 event rejected")
    expect(page.locator("main")).not_to_contain_text("null")

    def drawn(canvas_id):  # what Chart.js drew on the canvas: labels and each dataset's data
        return page.evaluate("""id => { const c = Chart.getChart(document.getElementById(id));
            return c && { labels: c.data.labels, data: c.data.datasets.map(d => d.data) }; }""", canvas_id)

    points_chart = drawn("points-chart")
    assert len(points_chart["labels"]) == 30
    assert [series[-1] for series in points_chart["data"]] == [150, 100]  # today: issued, redeemed
    assert sum(points_chart["data"][0]) == 150
    assert drawn("channels-chart") == {"labels": ["Facebook", "Online purchase"], "data": [[3, 1]]}
    assert drawn("activities-chart") == {"labels": ["Buy online", "Like us"], "data": [[120, 30]]}
    expect(page.get_by_role("img", name="Events per channel: Facebook 3, Online purchase 1")).to_be_visible()
    shot(page, "console-dashboard")

    page.get_by_role("button", name="7 days").click()
    expect(page.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => Chart.getChart(document.getElementById('points-chart'))?.data.labels.length === 7")
    page.get_by_text("Show the figures").first.click()
    expect(page.get_by_test_id("points-chart-table")).to_contain_text("150")
