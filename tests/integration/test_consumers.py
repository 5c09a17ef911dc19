"""Domain events fan out to a queue per consumer: a consumer that fails, fails alone.

A probe consumer that always raises is added the way a real one is (its own queue and
dead-letter queue, its own rule on the bus, made by the local stack's provisioning from a
ConsumerSpec); the same published event reaches the leaderboard's queue, which applies it on
its first receive while the probe's copy is retried and dead-lettered in the probe's own DLQ.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from chalicelib import aws, bootstrap, config
from chalicelib.bus import catalogue, publisher
from chalicelib.bus.consumer import Consumer
from chalicelib.leaderboard import model
from chalicelib.leaderboard import service as leaderboard
from chalicelib.resources import ConsumerSpec
from devstack import provision
from tests.bus import poll, waiting

PROBE = ConsumerSpec("failing-probe", "always fails (a brand's webhook that is down)", ("points.earned",),
                     tables=(), max_receive_count=2)


def test_a_failing_consumer_neither_delays_nor_dead_letters_the_leaderboards_copy(local_aws):
    [probe_queue] = provision.create_queues(visibility_scale=1 / 180, specs=(PROBE.queue,))  # retries in 1 s
    provision.create_bus([probe_queue], consumers=(PROBE,))
    tried = []

    def down(event: catalogue.PointsEarned) -> None:
        tried.append(event.id)
        raise ConnectionError("the brand's endpoint is down")

    probe = Consumer(PROBE.name, {catalogue.PointsEarned: down})
    board_queue = next(q for q in local_aws["provisioned"]["queues"] if q.spec.logical_name == "leaderboard-inbox")
    brand, member, now = f"brand-{uuid.uuid4().hex[:8]}", f"m{uuid.uuid4().hex[:10]}", datetime.now(UTC)
    earned = catalogue.PointsEarned(id=f"earned:{uuid.uuid4().hex}", at=now, brand_id=brand, member_id=member,
                                    event_id="e1", points=40)

    aws.client("sqs").purge_queue(QueueUrl=board_queue.url)  # what other tests published, nobody drains here
    publisher.publish(earned)

    assert poll(PROBE, probe, probe_queue.url, probe_queue.arn)[1]  # the probe fails first...
    received, failed = poll(bootstrap.CONSUMER_SPECS_BY_NAME["leaderboard"], bootstrap.consumer("leaderboard"),
                            board_queue.url, board_queue.arn)
    assert (received, failed) == (1, set())  # ...and the leaderboard's copy is applied on its first receive
    board = model.board(f"B.{brand}", "all", now, config.program_timezone())
    assert leaderboard.standing(board, member) == {"rank": 1, "points": 40}
    assert waiting(board_queue.url) == 0
    assert waiting(board_queue.dlq_url) == 0
    # off the program-wide boards again: other tests rank every member there against brute force
    leaderboard.apply(f"cleanup:{earned.id}", member, brand, -40, now)
    assert leaderboard.standing(board, member) is None

    deadline = time.monotonic() + 20
    while waiting(probe_queue.dlq_url) == 0 and time.monotonic() < deadline:
        poll(PROBE, probe, probe_queue.url, probe_queue.arn)  # its retries, until SQS dead-letters it
    assert tried == [earned.id, earned.id]  # two receives (its max_receive_count), then its own DLQ
    assert waiting(probe_queue.dlq_url) == 1
    assert waiting(probe_queue.url) == 0
    assert waiting(board_queue.dlq_url) == 0  # the leaderboard's dead-letter queue never saw it
