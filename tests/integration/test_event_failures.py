"""Every accepted event reaches a final, visible state: rejected at once when no retry can
succeed, failed after its last retry (and processed by a redrive), never swept forever."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from chalicelib.events.pipeline import Pipeline
from devstack.lambda_runtime import LambdaContext, sqs_event
from devstack.sqs_poller import failed_ids
from tests.integration.test_events_pipeline import member_of


def _record(sqs, event_id: str, receive_count: int):
    """A real message of the events queue, received ``receive_count`` times (a real receipt handle)."""
    from chalicelib import queues

    url, nonce = queues.queue_url("events"), uuid.uuid4().hex
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"event_id": event_id, "n": nonce}))
    for _ in range(20):
        for got in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10,
                                       AttributeNames=["All"]).get("Messages", []):
            if json.loads(got["Body"]).get("n") == nonce:
                got["Attributes"]["ApproximateReceiveCount"] = str(receive_count)
                return url, got
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])  # another test's
    raise AssertionError("the message never arrived")


def _accepted(brand: str, key: str, **attributes):
    from chalicelib.events import service

    return service.accept(brand, {"type": "purchase", "member_id": member_of(brand), "idempotency_key": key,
                                  "attributes": attributes}, datetime.now(UTC))


def _failed(batch) -> set[str]:
    """Ids of the batch's messages returned to the queue."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    import app

    try:
        reply = app.process_events(sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))
    except BatchProcessingError:  # every record failed: Lambda returns the whole batch
        return {m["MessageId"] for m in batch}
    return failed_ids(reply, batch)


def test_a_deterministic_failure_rejects_the_event_at_once_with_its_reason(local_aws, sqs):
    from chalicelib.events import service
    from chalicelib.ledger import model

    brand = f"brand-{uuid.uuid4().hex[:8]}"
    item = _accepted(brand, "poison")
    _, record = _record(sqs, item.event_id, 1)
    with mock.patch.object(Pipeline, "process", side_effect=model.InvalidTransfer("amount is not a number")):
        failed = _failed([record])

    assert failed == set()  # not retried: no retry could succeed
    stored = service.get(brand, item.event_id)
    assert (stored.status, stored.reason) == ("rejected", "invalid_transfer")
    assert stored.details["message"] == "amount is not a number"
    assert stored.details["attempts"] == 1
    assert stored.gsi1pk is None
    assert item.event_id not in {i.event_id for i in service.unprocessed(datetime.now(UTC), older_than=timedelta(0))}
    # settled is settled: a late copy of the message does not run the pipeline again
    assert service.process(item.event_id, datetime.now(UTC))["status"] == "rejected"


def test_a_transient_failure_backs_off_then_ends_failed_and_a_redrive_processes_it(local_aws, sqs):
    from chalicelib.events import service

    brand = f"brand-{uuid.uuid4().hex[:8]}"
    item = _accepted(brand, "flaky")
    outage = mock.patch.object(Pipeline, "process", side_effect=ConnectionError("DynamoDB unreachable"))

    url, first = _record(sqs, item.event_id, 1)
    with outage:
        assert _failed([first]) == {first["MessageId"]}
    assert service.get(brand, item.event_id).status == "accepted"  # retried, not settled
    # the backoff (5-10 s after a first failure) brings it back long before the queue's own
    # visibility timeout (180 s) would
    nonce, back = json.loads(first["Body"])["n"], None
    deadline = time.monotonic() + 15
    while back is None and time.monotonic() < deadline:
        for got in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])
            if json.loads(got["Body"]).get("n") == nonce:
                back = time.monotonic() + 15 - deadline
    assert back is not None
    assert 3 < back < 12

    _, last = _record(sqs, item.event_id, 5)  # the queue's maxReceiveCount
    with outage:
        assert _failed([last]) == {last["MessageId"]}  # SQS moves it to the DLQ
    stored = service.get(brand, item.event_id)
    assert (stored.status, stored.reason, stored.details["attempts"]) == ("failed", "internal_error", 5)
    assert stored.details["message"] == "ConnectionError"
    assert item.event_id in {i.event_id for i in service.failed(datetime.now(UTC))}
    swept_before = {i.event_id for i in service.unprocessed(datetime.now(UTC), older_than=timedelta(0))}
    assert item.event_id not in swept_before  # the sweeper leaves it to the dead-letter queue

    _, redriven = _record(sqs, item.event_id, 1)
    assert _failed([redriven]) == set()
    stored = service.get(brand, item.event_id)
    assert (stored.status, stored.reason, stored.details) == ("processed", None, None)
    assert item.event_id not in {i.event_id for i in service.failed(datetime.now(UTC))}


def test_a_write_dynamodb_refuses_is_reported_at_once_not_retried_as_contention(local_aws):
    from chalicelib.events import store as decisions
    from chalicelib.ledger.dynamo import DynamoLedgerStore, WriteRefused
    from chalicelib.ledger.model import Guard

    started = time.monotonic()
    with pytest.raises(WriteRefused) as refused:  # over DynamoDB's 400 KB item size, with a guard
        decisions.claim(f"huge-{uuid.uuid4().hex}", {"blob": "x" * 450_000}, (Guard(f"g-{uuid.uuid4().hex}", 0, {}),))
    assert refused.value.code == "write_refused"
    assert time.monotonic() - started < 5  # no 64 rounds of backoff first
    with pytest.raises(WriteRefused):  # and the ledger's own plans, without one
        DynamoLedgerStore().claim(f"huge-{uuid.uuid4().hex}", {"blob": "x" * 450_000})
