"""The local poller gives SQS messages to handlers with Lambda's semantics; queue state survives restarts."""

import json
import threading
import time
import uuid

from chalicelib import jobs, resources
from chalicelib.ops import store
from devstack import containers, durable, queue_state
from devstack.lambda_runtime import EventHandler
from devstack.sqs_poller import QueuePoller


def make_queue(sqs, max_receive_count=2, visibility=1):
    name = f"it-{uuid.uuid4().hex[:12]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
    })["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return name, url, arn, dlq_url


def count(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(int(attributes[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                            "ApproximateNumberOfMessagesDelayed"))


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_jobs_queue_delivers_to_the_real_handler_and_failures_go_to_the_dlq(local_aws, sqs):
    import app

    _, url, arn, dlq_url = make_queue(sqs)
    handler = EventHandler("process_jobs", "sqs", app.process_jobs, queue="x", batch_size=10)
    stop = threading.Event()
    pool = containers.Pool("jobs", 1)  # a real container: a spawned interpreter importing app
    poller = QueuePoller(handler, url, arn, stop, pool)
    poller.start()
    try:
        good = str(uuid.uuid4())
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job": "canary.ping", "args": {"id": good}}))
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job": "canary.fail", "args": {"id": "f"}}))

        assert wait_until(lambda: store.get("canary", good) is not None)
        assert wait_until(lambda: count(sqs, dlq_url) == 1)
        assert wait_until(lambda: count(sqs, url) == 0)
    finally:
        stop.set()
        poller.join(5)
        pool.stop()
    dead = sqs.receive_message(QueueUrl=dlq_url, AttributeNames=["All"])["Messages"][0]
    assert json.loads(dead["Body"])["job"] == "canary.fail"
    assert store.get("canary", good).count == 1  # delivered once, deleted once


def test_a_handler_that_raises_returns_the_whole_batch(local_aws, sqs):
    _, url, arn, _ = make_queue(sqs, max_receive_count=5, visibility=30)

    class Exploding:  # the pool's contract: call(fn, *args) runs one invocation somewhere
        def call(self, fn, *args):
            raise RuntimeError("boom")

    poller = QueuePoller(EventHandler("explode", "sqs", None), url, arn, threading.Event(), Exploding())
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]

    failed = poller.deliver(sqs, batch)

    assert len(failed) == len(batch)
    assert count(sqs, url) == 3  # nothing deleted: all come back after the visibility timeout


def test_queue_snapshot_keeps_visible_in_flight_and_delayed_messages(local_aws, sqs):
    name, url, _, _ = make_queue(sqs, max_receive_count=5, visibility=600)
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600,
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "later"}})
    sqs.send_message(QueueUrl=url, MessageBody="in-flight")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert {m["Body"] for m in received} == {"visible", "in-flight"}
    made_visible = next(m for m in received if m["Body"] == "visible")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=made_visible["ReceiptHandle"], VisibilityTimeout=0)
    saved = [m for m in queue_state.snapshot() if m["queue"] == name]

    sqs.purge_queue(QueueUrl=url)
    assert count(sqs, url) == 0
    assert queue_state.restore(saved) == 3

    by_body = {m["body"]: m for m in saved}
    assert by_body["in-flight"]["receive_count"] == 1
    assert by_body["delayed"]["delay_ms"] > 500_000
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert attributes["ApproximateNumberOfMessages"] == "2"
    bodies = {m["Body"]: m for m in sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]}
    assert set(bodies) == {"visible", "in-flight"}
    assert bodies["in-flight"]["Attributes"]["ApproximateReceiveCount"] == "2"  # budget kept


def test_a_restart_restores_the_snapshot_and_the_sends_journaled_after_it(local_aws, sqs, tmp_path):
    name, url, _, _ = make_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="in the snapshot")
    snapshot = [m for m in queue_state.snapshot() if m["queue"] == name]
    (tmp_path / "queues.json").write_text(json.dumps({"generation": 3, "messages": snapshot}))

    def line(generation, message_id, body):
        return json.dumps({"generation": generation, "queue": name, "message_id": message_id, "body": body,
                           "message_attributes": {}, "receive_count": 0, "due_ms": 0, "group_id": None,
                           "deduplication_id": None})
    (tmp_path / "queues.journal").write_text("\n".join([
        line(2, "old", "journaled before the snapshot"),  # an older generation: already in the snapshot
        line(3, snapshot[0]["message_id"], "in the snapshot"),  # the same message twice: once
        line(3, "new", "sent after the snapshot"),
        '{"generation": 3, "queue": "' + name + '", "mess',  # the line being written at the kill
    ]))
    sqs.purge_queue(QueueUrl=url)

    assert durable.restore_queues(tmp_path / "queues.json", tmp_path / "queues.journal") == 2

    bodies = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"])
    assert bodies == ["in the snapshot", "sent after the snapshot"]


def test_jobs_can_be_enqueued_by_name(local_aws, sqs):
    message_id = jobs.enqueue("canary.ping", {"id": "by-name"})

    assert message_id
    url = sqs.get_queue_url(QueueName=resources.JOBS.name)["QueueUrl"]
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert {"job": "canary.ping", "args": {"id": "by-name"}} in bodies


def test_a_stop_does_not_wait_for_a_long_poll_and_hands_no_batch_to_stopping_containers(local_aws, sqs):
    _, url, arn, _ = make_queue(sqs, visibility=30)
    calls = []

    class Recording:
        def call(self, fn, *args):
            calls.append(args)
            return None

    stop = threading.Event()
    poller = QueuePoller(EventHandler("h", "sqs", None, batch_size=10), url, arn, stop, Recording(),
                         wait_seconds=20)  # a long poll, as Lambda's pollers
    poller.start()
    time.sleep(0.5)  # in its receive, waiting on the empty queue
    assert not poller.delivering  # so a stop need not wait for it

    stop.set()
    sqs.send_message(QueueUrl=url, MessageBody="late")  # ends the long poll at once

    poller.join(5)
    assert not poller.is_alive()
    assert calls == []  # received after the stop: not handed on
    assert count(sqs, url) == 1  # and not deleted: it comes back after its visibility timeout


def test_a_batching_window_gathers_messages_that_arrive_within_it_into_one_batch(local_aws, sqs):
    """As Lambda's MaximumBatchingWindowInSeconds: from the first message, the poller keeps
    receiving until the batch is full or the window has passed, then calls the handler once."""
    _, url, arn, _ = make_queue(sqs, visibility=30)
    calls = []

    class Recording:
        def call(self, fn, *args):
            calls.append([record["body"] for record in args[1]["Records"]])
            return None

    stop = threading.Event()
    poller = QueuePoller(EventHandler("h", "sqs", None, batch_size=10, batching_window=2), url, arn, stop, Recording())
    poller.start()
    try:
        for i in range(4):  # one at a time, well within the window
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
            time.sleep(0.2)
        assert wait_until(lambda: calls, timeout=10)
        first = time.monotonic()
        for i in range(12):  # more than a batch at once: a full batch goes without waiting
            sqs.send_message(QueueUrl=url, MessageBody=f"n{i}")
        assert wait_until(lambda: sum(map(len, calls)) == 16, timeout=10)
    finally:
        stop.set()
        poller.join(5)
    assert sorted(calls[0]) == [f"m{i}" for i in range(4)]  # gathered, one call
    assert max(len(batch) for batch in calls[1:]) == 10  # a full batch goes at once
    assert len(calls) <= 4
    assert time.monotonic() - first < 8
    assert wait_until(lambda: count(sqs, url) == 0)
