"""Event handlers are reachable the way Lambda reaches them, and report per-record failures."""

import json

import pytest

from chalicelib import jobs
from devstack.lambda_runtime import LambdaContext, event_handlers, resolve, scheduled_event, sqs_event
from devstack.sqs_poller import failed_ids


@pytest.fixture(scope="module")
def chalice_app():
    import app

    return app.app


def test_every_event_source_resolves_to_the_wrapped_handler_in_the_app_module(chalice_app):
    import app

    for source in chalice_app.event_sources:
        module, _, name = source.handler_string.rpartition(".")
        assert module == "app", f"{source.name}: Lambda would call it without the app's middleware"
        assert resolve(source.handler_string) is getattr(app, name)


def test_the_app_registers_the_jobs_queue_and_the_heartbeat(chalice_app):
    handlers = {h.name: h for h in event_handlers(chalice_app)}

    assert handlers["process_jobs"].kind == "sqs"
    assert handlers["process_jobs"].batch_size == 10
    assert handlers["heartbeat"].schedule == "rate(1 minute)"
    assert handlers["expire_points"].schedule == "cron(15 0 * * ? *)"


seen: list[dict] = []


@jobs.job("test.record")
def _record(args):
    seen.append(args)


def message(message_id, body):
    return {"MessageId": message_id, "ReceiptHandle": f"rh-{message_id}", "Body": body,
            "Attributes": {"ApproximateReceiveCount": "1"}, "MessageAttributes": {}}


def test_one_poison_message_fails_alone_and_its_batch_mates_succeed():
    import app

    seen.clear()
    batch = [
        message("m1", json.dumps({"job": "test.record", "args": {"n": 1}})),
        message("m2", "{not json"),
        message("m3", json.dumps({"job": "no.such.job"})),
        message("m4", json.dumps({"job": "test.record", "args": {"n": 4}})),
    ]

    reply = app.process_jobs(sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q"),
                             LambdaContext("process_jobs"))

    assert failed_ids(reply, batch) == {"m2", "m3"}
    assert seen == [{"n": 1}, {"n": 4}]


@pytest.mark.parametrize(("body", "reason"), [
    ("[]", "must be"),
    ('{"job": 3}', "must be"),
    ('{"job": "test.record", "args": []}', "args"),
    ('{"job": "nope"}', "no job"),
])
def test_malformed_job_messages_are_poison(body, reason):
    with pytest.raises(jobs.PoisonMessage, match=reason):
        jobs.parse(body)


def test_a_job_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="twice"):
        jobs.job("test.record")(lambda args: None)


def test_batch_failure_reply_semantics():
    batch = [message("a", ""), message("b", "")]

    assert failed_ids(None, batch) == set()
    assert failed_ids({"batchItemFailures": []}, batch) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, batch) == {"b"}
    # Lambda fails the whole batch when the reply names a record it never sent
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, batch) == {"a", "b"}
    assert failed_ids({"batchItemFailures": [{}]}, batch) == {"a", "b"}


def test_scheduled_event_has_eventbridge_shape():
    event = scheduled_event("punchcard-local-heartbeat")

    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/punchcard-local-heartbeat")


def test_each_defined_queue_has_a_handler_in_any_deployment():
    # In a fresh interpreter: Chalice reads queue names when app.py is imported, so this checks
    # the names a deployment with its own prefix would package.
    import os
    import subprocess
    import sys
    from pathlib import Path

    from chalicelib import resources

    probe = ("import json, app; print(json.dumps([s.queue for s in app.app.event_sources "
             "if type(s).__name__ == 'SQSEventConfig']))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUNCHCARD_")}
    env["PUNCHCARD_PREFIX"] = "tenant-x"
    out = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[2], env=env,
                         capture_output=True, text=True, check=True).stdout
    consumed = set(json.loads(out))

    assert {f"tenant-x-{spec.logical_name}" for spec in resources.QUEUES} <= consumed
