"""The brand console in a real browser against the dev stack: log in with a brand key, create
an activity (the API's validation shown by the form), simulate it, activate it; a reward and
its voucher codes; a member looked up, adjusted."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot
from tests.e2e.helpers import call, new_brand, new_email

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
