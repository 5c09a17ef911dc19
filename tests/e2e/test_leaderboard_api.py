"""The leaderboard over HTTP: events earn points, the leaderboard consumer (its own queue) moves the boards."""

import uuid

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.helpers import call, member_of, new_brand

pytestmark = pytest.mark.slow


def test_members_climb_the_brand_board_and_see_their_own_rank(stack):
    brand = new_brand(stack, "Board Co")
    created = call(stack, "POST", "/v1/activities", brand["api_key"], json={
        "name": "Spend", "status": "active", "trigger": {"event": "purchase"},
        "reward": {"per_unit": {"fact": "event.attributes.amount", "points": 1}}})
    assert created.status_code == 201, created.text
    members = []
    for amount in (30, 50, 50, 10):
        member = member_of(stack, brand)
        sent = call(stack, "POST", "/v1/events", brand["api_key"], json={
            "type": "purchase", "member_id": member["id"], "idempotency_key": uuid.uuid4().hex,
            "attributes": {"amount": amount}})
        assert sent.status_code == 202, sent.text
        members.append(member)
    named = call(stack, "PUT", "/v1/me/leaderboard", members[1]["id_token"], json={"display_name": "Ada"})
    assert named.json() == {"display_name": "Ada", "shown_as": "Ada"}

    def board():
        body = call(stack, "GET", f"/v1/leaderboard?period=week&brand_id={brand['id']}", members[0]["id_token"]).json()
        return body if len(body["items"]) == 4 else None

    found = wait_until(board, timeout=60)
    assert found, "the leaderboard did not catch up"
    assert [(row["rank"], row["points"]) for row in found["items"]] == [(1, 50), (1, 50), (3, 30), (4, 10)]
    assert "Ada" in [row["member_display"] for row in found["items"]]
    assert [row["me"] for row in found["items"]] == [False, False, True, False]
    assert found["me"] == {"rank": 3, "points": 30}
    by_brand = call(stack, "GET", "/v1/leaderboard?period=all&limit=2", brand["api_key"]).json()
    assert ([row["points"] for row in by_brand["items"]], by_brand["me"]) == ([50, 50], None)
    assert all(member["id"] not in str(by_brand) for member in members)  # names or anonymous tags, never ids
    other = new_brand(stack, "Not Enrolled Co")
    refused = call(stack, "GET", f"/v1/leaderboard?brand_id={other['id']}", members[0]["id_token"])
    assert refused.status_code == 404
    bad = call(stack, "GET", "/v1/leaderboard?period=year", members[0]["id_token"])
    assert (bad.status_code, bad.json()["error"]["details"]["parameter"]) == (400, "period")
