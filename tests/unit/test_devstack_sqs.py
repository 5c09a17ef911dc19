"""The local stack's moto SQS, made O(1) per message by ``faster_sqs``, keeps SQS's semantics."""

import time

import pytest
from moto.sqs import models

from devstack.moto_server import faster_sqs


@pytest.fixture
def backend():
    faster_sqs()
    backend = models.SQSBackend("us-east-1", "123456789012")
    backend.create_queue("q", VisibilityTimeout="30", MessageRetentionPeriod="60")
    return backend


def test_a_receive_no_longer_computes_the_queue_attributes_per_message(backend, monkeypatch):
    for n in range(300):
        backend.send_message("q", f"m{n}")
    computed = []
    original = models.Queue.attributes
    monkeypatch.setattr(models.Queue, "attributes", property(lambda q: computed.append(1) or original.fget(q)))

    got = backend.receive_message("q", 10, 0, 30)

    assert len(got) == 10
    assert computed == []  # moto 5.2: once per message received, each a pass over all 300


def test_messages_past_the_retention_period_are_not_delivered(backend):
    backend.send_message("q", "fresh")
    backend.send_message("q", "old").sent_timestamp -= 61_000  # sent 61 s ago; the queue keeps 60 s

    got = backend.receive_message("q", 10, 0, 30)

    assert [m.body for m in got] == ["fresh"]
    assert backend.receive_message("q", 10, 0, 30) == []


def test_visibility_and_counts_follow_the_real_clock(backend):
    backend.send_message("q", "a")
    backend.send_message("q", "b", delay_seconds=5)

    first = backend.receive_message("q", 10, 0, 1)
    again = backend.receive_message("q", 10, 0, 1)
    counts = backend.get_queue_attributes("q", ["All"])

    assert [m.body for m in first] == ["a"]
    assert again == []
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"],
            counts["ApproximateNumberOfMessagesDelayed"]) == (0, 1, 1)
    time.sleep(1.1)
    assert [m.body for m in backend.receive_message("q", 10, 0, 30)] == ["a"]  # its visibility lapsed
    assert abs(models.unix_time() - time.time()) < 0.01
    assert abs(models.unix_time_millis() / 1000 - time.time()) < 0.01
