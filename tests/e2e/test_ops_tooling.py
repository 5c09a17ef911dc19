"""The ops tooling against the running local stack: a poison message ends in the dead-letter
queue with its reason, is shown, redriven (and fails again, as poison does); the settings' tiers
are applied through the API with the admin key read from Secrets Manager."""

from __future__ import annotations

import json

import pytest

from infra import ops
from tests.e2e.conftest import aws_client, wait_until
from tests.e2e.helpers import call

pytestmark = pytest.mark.slow


def local(stack) -> ops.Target:
    return ops.Target("punchcard-local", "us-east-1", f"http://127.0.0.1:{stack.moto_port}")


def test_a_poison_message_is_shown_with_its_reason_and_redriven(stack):
    where = local(stack)
    sqs = aws_client(stack.credentials, "sqs")
    sqs.send_message(QueueUrl=where.queue_url("events"), MessageBody="{not json")

    found = wait_until(lambda: [m for m in ops.peek(where, "events") if m["body"] == "{not json"], timeout=30)

    assert found, "the poison message never reached the dead-letter queue"
    assert "JSON" in found[0]["reason"]
    assert ops.redrive(where, "events") == 1  # moved once, though it fails again at once
    # sent back to the events queue (a new message), consumed, and, still poison, back again
    again = wait_until(lambda: [m for m in ops.peek(where, "events")
                                if m["body"] == "{not json" and m["id"] != found[0]["id"]], timeout=30)
    assert again, "the redriven message was lost"
    assert "JSON" in again[0]["reason"]


def test_apply_tiers_puts_the_settings_tiers_through_the_api(stack):
    from infra.settings import load

    tiers = load("example").data["tiers"]
    applied = ops.apply_tiers(local(stack), tiers, stack.credentials["api"])
    assert [t["id"] for t in applied["tiers"]] == ["member", "silver", "gold"]
    listed = call(stack, "GET", "/v1/tiers").json()
    assert json.dumps(listed["tiers"], sort_keys=True) == json.dumps(applied["tiers"], sort_keys=True)
