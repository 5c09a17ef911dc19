"""A shared client serves as many threads as share it without dropping connections."""

import logging
import threading
import uuid


def test_twenty_threads_long_polling_one_client_keep_their_connections(local_aws, sqs, caplog):
    url = sqs.create_queue(QueueName=f"pool-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    barrier = threading.Barrier(20)

    def poll():
        barrier.wait()
        for _ in range(2):
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)

    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        threads = [threading.Thread(target=poll) for _ in range(20)]  # as the local stack's pollers
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
