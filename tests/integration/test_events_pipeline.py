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
    the DynamoDB ledger store and decisions: guards and claims in real transactions."""
    from chalicelib.events import store as decisions
    from chalicelib.ledger.dynamo import DynamoLedgerStore
    from tests.pipeline_simulation import PipelineSimulation

    simulation = PipelineSimulation(seed, DynamoLedgerStore(), decisions, namespace=f"{uuid.uuid4().hex[:8]}-")
    simulation.play(60)

    assert simulation.stats["replays"]


def test_a_failing_event_is_retried_alone(local_aws):
    import app
    from chalicelib.events import service

    real = service.run

    def flaky(event_id, now, item=None):
        if event_id == "1" * 26:
            raise RuntimeError("DynamoDB throttled")
        return real(event_id, now, item)

    brand = f"brand-{uuid.uuid4().hex[:8]}"
    item = service.accept(brand, {"type": "purchase", "member_id": member_of(brand), "idempotency_key": "k3"},
                          datetime.now(UTC))
    batch = [message("flaky", json.dumps({"event_id": "1" * 26})),
             message("fine", json.dumps({"event_id": item.event_id}))]
    with mock.patch.object(service, "run", flaky):
        reply = app.process_events(sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))

    assert failed_ids(reply, batch) == {"flaky"}  # back to the queue, then the DLQ after 5 receives
    assert service.get(brand, item.event_id).status == "processed"


def _active(brand: str, points: int):
    from chalicelib.activities import service as activities

    return activities.create(brand, {"name": "a purchase", "status": "active", "trigger": {"event": "purchase"},
                                     "reward": {"points": points}}, datetime.now(UTC))


def _earned(member_id: str) -> int:
    from chalicelib import bootstrap

    return bootstrap.ledger_store().book(member_id).lifetime_earned


def test_a_batch_publishes_its_domain_events_ten_per_call_and_an_unpublished_one_retries_its_event_alone(local_aws):
    import app
    from chalicelib import aws
    from chalicelib.events import service

    brand = f"brand-{uuid.uuid4().hex[:8]}"
    _active(brand, 1)
    members = [member_of(brand) for _ in range(12)]
    items = [service.accept(brand, {"type": "purchase", "member_id": m, "idempotency_key": f"n{i}"},
                            datetime.now(UTC)) for i, m in enumerate(members)]
    batch = [message(f"m{i}", json.dumps({"event_id": item.event_id})) for i, item in enumerate(items)]
    bus, sqs = aws.client("events"), aws.client("sqs")
    real_put, calls = bus.put_events, []

    def lossy(Entries):  # boto3 calls it with this name; EventBridge answers per entry
        calls.append(len(Entries))
        lost = [e for e in Entries if json.loads(e["Detail"])["event_id"] == items[3].event_id]
        reply = real_put(Entries=[e for e in Entries if e not in lost])
        done = iter(reply["Entries"])
        return {"FailedEntryCount": len(lost), "Entries": [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} if e in lost else next(done)
            for e in Entries]}

    with mock.patch.object(bus, "put_events", lossy), \
            mock.patch.object(sqs, "send_message", side_effect=AssertionError("no send per event")):
        reply = app.process_events(sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))

    assert calls == [10, 2]
    assert failed_ids(reply, batch) == {"m3"}  # retried: its domain event was not published
    assert service.get(brand, items[3].event_id).status == "accepted"  # not recorded before it is published
    assert all(service.get(brand, item.event_id).status == "processed" for i, item in enumerate(items) if i != 3)
    assert _earned(members[3]) == 1  # the grant itself was made (exactly once, replayed below)

    retried = app.process_events(sqs_event([batch[3]], "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))

    assert failed_ids(retried, [batch[3]]) == set()
    assert service.get(brand, items[3].event_id).status == "processed"
    assert [_earned(m) for m in members] == [1] * 12  # the replay moved no point twice


def test_a_brands_ruleset_version_is_read_once_per_batch_and_a_change_counts_from_the_next(local_aws):
    import app
    from chalicelib.activities import service as activities
    from chalicelib.activities import store
    from chalicelib.events import service

    brand, other = f"brand-{uuid.uuid4().hex[:8]}", f"brand-{uuid.uuid4().hex[:8]}"
    activity = _active(brand, 1)
    _active(other, 1)
    member, elsewhere = member_of(brand), member_of(other)

    def batch_of(n: int, tag: str) -> list[dict]:
        return [message(f"{tag}{i}", json.dumps({"event_id": service.accept(
            brand if i % 2 else other, {"type": "purchase", "member_id": member if i % 2 else elsewhere,
                                        "idempotency_key": f"{tag}{i}"}, datetime.now(UTC)).event_id}))
            for i in range(n)]

    first = batch_of(6, "a")
    with mock.patch.object(store, "ruleset_version", wraps=store.ruleset_version) as version:
        app.process_events(sqs_event(first, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))
    assert sorted(c.args[0] for c in version.call_args_list) == sorted([brand, other])  # once per brand

    assert _earned(member) == 3
    activities.update(brand, activity.activity_id, {**activity.definition, "reward": {"points": 5}},
                      datetime.now(UTC))
    app.process_events(sqs_event(batch_of(2, "b"), "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))
    assert _earned(member) == 3 + 5  # the change was stored before this batch began: it counts


def test_a_batch_reads_its_members_at_once_and_refuses_only_the_events_of_non_members(local_aws):
    import botocore.client

    from chalicelib import errors
    from chalicelib.events import service
    from chalicelib.members import service as members

    brand, other = f"brand-{uuid.uuid4().hex[:8]}", f"brand-{uuid.uuid4().hex[:8]}"
    a, b, erased = member_of(brand), member_of(brand), member_of(brand)
    members.erase(erased, datetime.now(UTC))
    email = f"{uuid.uuid4().hex}@example.com"
    invited, _, _ = members.create_or_enrol({"email": email}, other, "api", datetime.now(UTC))
    assert members.create_or_invite({"email": email}, brand, datetime.now(UTC))[1].invited  # no consent yet
    named = [a, b, a, invited.member_id, erased, "0" * 26, b]
    real = botocore.client.BaseClient._make_api_call
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        results = service.accept_batch(brand, [{"type": "purchase", "member_id": m, "idempotency_key": f"r{i}"}
                                               for i, m in enumerate(named)], datetime.now(UTC))

    operations = [c.args[1] for c in made.call_args_list]
    assert operations.count("BatchGetItem") == 2  # profiles, enrolments: not two reads per event
    assert "GetItem" not in operations
    assert operations.count("PutItem") == 4
    refused = [i for i, r in enumerate(results) if isinstance(r, errors.PunchcardError)]
    assert refused == [3, 4, 5]
    assert {results[i].code for i in refused} == {"member_not_found"}
    assert [results[i].member_id for i in (0, 1, 2, 6)] == [a, b, a, b]


def test_a_batch_reads_its_events_and_their_members_profiles_at_once(local_aws):
    import botocore.client

    import app
    from chalicelib.events import service

    brand = f"brand-{uuid.uuid4().hex[:8]}"
    _active(brand, 2)
    members = [member_of(brand) for _ in range(3)]
    batch = [message(f"p{i}", json.dumps({"event_id": service.accept(
        brand, {"type": "purchase", "member_id": members[i % 3], "idempotency_key": f"p{i}"}, datetime.now(UTC)
    ).event_id})) for i in range(6)] + [message("gone", json.dumps({"event_id": "2" * 26}))]
    real = botocore.client.BaseClient._make_api_call
    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", autospec=True, side_effect=real) as made:
        reply = app.process_events(sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext("p"))

    assert failed_ids(reply, batch) == set()  # "gone" is dead-lettered
    gets = [c.args[2]["Key"]["sk"]["S"] for c in made.call_args_list if c.args[1] == "GetItem"]
    assert gets.count("EVENT") == 1  # the missing event's own read: the others came in one BatchGetItem
    assert "PROFILE" not in gets
    assert [_earned(m) for m in members] == [4, 4, 4]


def test_a_put_whose_reply_was_lost_and_retried_into_its_own_condition_still_sends_the_event(local_aws, sqs):
    """botocore retries a PutItem whose reply it did not get; the retry fails the put's own
    condition. The event is new all the same: it is enqueued now, not 5 minutes later by the sweeper."""
    from chalicelib import queues
    from chalicelib.events import service
    from chalicelib.store.events import EventItem

    brand = f"brand-{uuid.uuid4().hex[:8]}"
    real = EventItem.save

    def lost_reply(self, *args, **kwargs):
        real(self, *args, **kwargs)  # written...
        return real(self, *args, **kwargs)  # ...and retried: ConditionalCheckFailed

    with mock.patch.object(queues, "send_batch") as sent, mock.patch.object(EventItem, "save", lost_reply):
        item = service.accept(brand, {"type": "purchase", "member_id": member_of(brand), "idempotency_key": "lost"},
                              datetime.now(UTC))
        again = service.accept(brand, {"type": "purchase", "member_id": item.member_id, "idempotency_key": "lost"},
                               datetime.now(UTC))

    assert again.event_id == item.event_id
    # sent once: the second accept is a client retry (answered, not resent)
    assert [c.args[1] for c in sent.call_args_list] == [[{"event_id": item.event_id}]]
