"""The events handler and the sweeper on DynamoDB Local and moto: poison fails alone, nothing
accepted is lost."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from devstack.lambda_runtime import LambdaContext, sqs_event
from devstack.sqs_poller import failed_ids


def message(message_id, body):
    return {"MessageId": message_id, "ReceiptHandle": f"rh-{message_id}", "Body": body,
            "Attributes": {"ApproximateReceiveCount": "1"}, "MessageAttributes": {}}


def member_of(brand_id: str) -> str:
    from chalicelib.members import service as members

    profile, _, _ = members.create_or_enrol({"email": f"{uuid.uuid4().hex}@example.com"}, brand_id, "api",
                                            datetime.now(UTC))
    return profile.member_id


def test_poison_goes_to_the_dead_letter_queue_with_its_reason_and_an_event_is_processed_once(local_aws, sqs):
    import app
    from chalicelib import queues
    from chalicelib.events import service

    dlq = queues.queue_url("events-dlq")
    sqs.purge_queue(QueueUrl=dlq)
    brand = f"brand-{uuid.uuid4().hex[:8]}"
    item = service.accept(brand, {"type": "purchase", "member_id": member_of(brand), "idempotency_key": "k1"},
                          datetime.now(UTC))
    batch = [message("good", json.dumps({"event_id": item.event_id})), message("bad", "{not json"),
             message("gone", json.dumps({"event_id": "0" * 26})),
             message("again", json.dumps({"event_id": item.event_id}))]

    reply = app.process_events(sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))

    assert failed_ids(reply, batch) == set()  # nothing to retry: poison is dead-lettered at once
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                               MessageAttributeNames=["All"]).get("Messages", [])
    reasons = {m["MessageAttributes"]["source_message_id"]["StringValue"]:
               m["MessageAttributes"]["reason"]["StringValue"] for m in dead}
    assert set(reasons) == {"bad", "gone"}
    assert "not JSON" in reasons["bad"]
    assert "no event" in reasons["gone"]
    stored = service.get(brand, item.event_id)
    assert stored.status == "processed"
    assert stored.outcomes == []  # the brand has no activities
    assert stored.gsi1pk is None  # out of the unprocessed index


def test_an_event_whose_send_failed_is_found_and_resent_by_the_sweeper(local_aws, sqs):
    from chalicelib import queues
    from chalicelib.events import service

    brand = f"brand-{uuid.uuid4().hex[:8]}"
    url = queues.queue_url("events")
    sqs.purge_queue(QueueUrl=url)
    then = datetime.now(UTC) - timedelta(minutes=10)
    with mock.patch.object(queues, "send_batch", side_effect=RuntimeError("SQS is down")):
        item = service.accept(brand, {"type": "purchase", "member_id": member_of(brand), "idempotency_key": "k2"},
                              then)
    assert service.get(brand, item.event_id).status == "accepted"  # stored and answered 202 all the same

    assert item.event_id in {i.event_id for i in service.unprocessed(datetime.now(UTC))}
    assert service.sweep(datetime.now(UTC)) >= 1

    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                                WaitTimeSeconds=1).get("Messages", [])]
    assert {"event_id": item.event_id} in bodies
    assert service.process(item.event_id, datetime.now(UTC))["status"] == "processed"
    assert item.event_id not in {i.event_id for i in service.unprocessed(datetime.now(UTC))}


@pytest.mark.parametrize("seed", range(int(os.environ.get("PIPELINE_DYNAMO_SEEDS", "3"))))
def test_the_pipeline_simulation_holds_on_dynamodb(local_aws, seed):
    """The seeded pipeline simulation (crashes, redeliveries, limits, budgets, milestones) on
    the DynamoDB ledger store: guards and claims in real transactions."""
    from chalicelib.ledger.dynamo import DynamoLedgerStore
    from tests.pipeline_simulation import PipelineSimulation

    simulation = PipelineSimulation(seed, DynamoLedgerStore(), namespace=f"{uuid.uuid4().hex[:8]}-")
    simulation.play(60)

    assert simulation.stats["replays"]


def test_a_failing_event_is_retried_alone(local_aws):
    import app
    from chalicelib.events import service

    real = service.process

    def flaky(event_id, now):
        if event_id == "1" * 26:
            raise RuntimeError("DynamoDB throttled")
        return real(event_id, now)

    brand = f"brand-{uuid.uuid4().hex[:8]}"
    item = service.accept(brand, {"type": "purchase", "member_id": member_of(brand), "idempotency_key": "k3"},
                          datetime.now(UTC))
    batch = [message("flaky", json.dumps({"event_id": "1" * 26})),
             message("fine", json.dumps({"event_id": item.event_id}))]
    with mock.patch.object(service, "process", flaky):
        reply = app.process_events(sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))

    assert failed_ids(reply, batch) == {"flaky"}  # back to the queue, then the DLQ after 5 receives
    assert service.get(brand, item.event_id).status == "processed"
