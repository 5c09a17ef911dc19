"""Ops tooling against moto: dead-letter queues inspected and redriven, the admin key rotated, a
tenant settings file made from answers."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from infra import ops
from infra.settings import load

WHERE = ops.Target("punchcard-example", "eu-west-1")


@pytest.fixture
def aws():
    with mock_aws():
        yield


def make_queues(queue: str) -> tuple[str, str]:
    sqs = boto3.client("sqs", region_name="eu-west-1")
    dlq = sqs.create_queue(QueueName=f"punchcard-example-{queue}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    main = sqs.create_queue(QueueName=f"punchcard-example-{queue}", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"})})["QueueUrl"]
    return main, dlq


def test_a_dead_letter_queue_is_shown_with_reasons_and_left_in_place(aws):
    _, dlq = make_queues("events")
    sqs = boto3.client("sqs", region_name="eu-west-1")
    for n in range(13):
        attributes = {"reason": {"DataType": "String", "StringValue": f"poison {n}"}} if n % 2 else {}
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"event_id": f"e{n}"}), MessageAttributes=attributes)

    shown = ops.peek(WHERE, "events")

    assert sorted(json.loads(m["body"])["event_id"] for m in shown) == sorted(f"e{n}" for n in range(13))
    assert {m["reason"] for m in shown} == {f"poison {n}" for n in range(1, 13, 2)} | {"failed every retry"}
    again = ops.peek(WHERE, "events", limit=5)  # still there, and the limit holds
    assert len(again) == 5


def test_redrive_moves_every_message_back_once(aws):
    main, dlq = make_queues("leaderboard-inbox")
    sqs = boto3.client("sqs", region_name="eu-west-1")
    bodies = [json.dumps({"type": "points.earned", "id": f"m{n}"}) for n in range(25)]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)

    assert ops.redrive(WHERE, "leaderboard-inbox") == 25

    back = []
    while batch := sqs.receive_message(QueueUrl=main, MaxNumberOfMessages=10).get("Messages", []):
        back += [m["Body"] for m in batch]
        sqs.delete_message_batch(QueueUrl=main, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]}
                                                         for m in batch])
    assert sorted(back) == sorted(bodies)
    assert ops.peek(WHERE, "leaderboard-inbox") == []
    assert ops.redrive(WHERE, "leaderboard-inbox") == 0


def test_redrive_of_permanent_poison_moves_each_message_once(aws, monkeypatch):
    _, dlq = make_queues("events")
    sqs = boto3.client("sqs", region_name="eu-west-1")
    for n in range(5):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"event_id": f"poison-{n}"}))
    sends = []

    def poison_fails_at_once(params, **_):
        # a consumer faster than the redrive: whatever reaches the queue is dead-lettered again,
        # as a new message (the handler sends poison to the DLQ itself)
        sends.append(params)
        assert len(sends) < 20, "redrive keeps moving the same poison"
        for entry in params["Entries"]:
            sqs.send_message(QueueUrl=dlq, MessageBody=entry["MessageBody"])

    client = ops.Target.client

    def hooked(self, service):
        made = client(self, service)
        made.meta.events.register("provide-client-params.sqs.SendMessageBatch", poison_fails_at_once)
        return made

    monkeypatch.setattr(ops.Target, "client", hooked)

    assert ops.redrive(WHERE, "events") == 5

    moved = [json.loads(e["MessageBody"])["event_id"] for call in sends for e in call["Entries"]]
    assert sorted(moved) == [f"poison-{n}" for n in range(5)]
    # the five that came back are in the DLQ, visible, for the next look or redrive
    returned = [json.loads(m["body"])["event_id"] for m in ops.peek(WHERE, "events")]
    assert sorted(returned) == sorted(moved)


def test_rotating_the_admin_key_stores_a_new_valid_key(aws):
    from chalicelib.identity import keys

    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    secrets.create_secret(Name="punchcard-example/admin-key", SecretString="placeholder-from-deploy")
    first, second = ops.rotate_admin_key(WHERE), ops.rotate_admin_key(WHERE)
    assert first != second
    assert keys.is_admin_key(second)
    assert secrets.get_secret_value(SecretId="punchcard-example/admin-key")["SecretString"] == second


def test_new_tenant_asks_again_until_the_answers_are_valid(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ops, "TENANTS", tmp_path)
    answers = iter(["Bad Id", "", "", "Acme Rewards", "stars", "Europe/Paris", "mail.acme.test", "", "ops@acme.test",
                    "acme", "us-east-2", "staging", "Acme Rewards", "", "", "mail.acme.test", "", "ops@acme.test"])
    path = ops.new_tenant(lambda _: next(answers))
    assert "settings.tenant" in capsys.readouterr().err
    written = json.loads((tmp_path / "acme.json").read_text())
    assert path.endswith("acme.json")
    assert written["mail"]["sender"] == "rewards@mail.acme.test"
    assert (written["region"], written["environment"], written["program"]["points_name"]) == \
        ("us-east-2", "staging", "points")
    monkeypatch.setattr("infra.settings.TENANTS", tmp_path)
    assert load("acme").prefix == "punchcard-acme"


def test_the_cli_explains_a_bad_tenant_or_queue(capsys):
    assert ops.main(["dlq", "--tenant", "nobody", "--queue", "events"]) == 2
    assert "make tenant" in capsys.readouterr().err
    assert ops.main(["redrive", "--tenant", "example", "--queue", "mail"]) == 2
    assert "--queue is one of" in capsys.readouterr().err


def test_recount_leaderboard_queues_one_recount_job_per_scan_segment(aws):
    from chalicelib import bootstrap
    from chalicelib import jobs as job_registry

    main, _ = make_queues("jobs")
    sent = ops.recount_leaderboard(WHERE, segments=3)

    sqs = boto3.client("sqs", region_name="eu-west-1")
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=main, MaxNumberOfMessages=10)["Messages"]]
    assert sent == 3
    bootstrap.jobs()
    parsed = sorted((job_registry.parse(body) for body in bodies), key=lambda job: job[1]["segment"])
    assert parsed == [("leaderboard.recount", {"segment": s, "segments": 3}) for s in range(3)]  # jobs it runs
