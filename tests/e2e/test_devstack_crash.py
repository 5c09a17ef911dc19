"""A hard kill of the local stack (kill -9) mid-stream loses no queued or dead-lettered message
and no member login, and the stack picks up where it was within seconds of the restart."""

from __future__ import annotations

import ctypes.util
import json
import signal
import threading
import time
import uuid

import pytest

from tests.e2e.conftest import aws_client, descendants, wait_until
from tests.e2e.helpers import call, sign_up_and_log_in
from tests.e2e.test_local_stack import queue_url, running_as_stack, system_record

pytestmark = pytest.mark.slow


def test_kill_9_mid_stream_loses_nothing(new_stack):
    running = new_stack()
    credentials = running.start()
    stack = running_as_stack(running, credentials)
    sqs = aws_client(credentials, "sqs")
    jobs, dlq = queue_url(credentials, "punchcard-local-jobs"), queue_url(credentials, "punchcard-local-jobs-dlq")
    early = sign_up_and_log_in(stack)
    delayed = [str(uuid.uuid4()) for _ in range(3)]  # accepted, due only long after the restart
    for canary in delayed:
        sqs.send_message(QueueUrl=jobs, DelaySeconds=900,
                         MessageBody=json.dumps({"job": "canary.ping", "args": {"id": canary}}))
    dead = str(uuid.uuid4())
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"job": "canary.ping", "args": {"id": dead}}))
    accepted: list[str] = []
    streaming = threading.Event()

    def stream():
        try:
            while True:
                canary = str(uuid.uuid4())
                sqs.send_message(QueueUrl=jobs, MessageBody=json.dumps({"job": "canary.ping", "args": {"id": canary}}))
                accepted.append(canary)  # only what the queue acknowledged counts as accepted
                streaming.set()
        except Exception:  # the stack died under us
            return

    sender = threading.Thread(target=stream)
    sender.start()
    assert streaming.wait(10)
    deadline = time.monotonic() + 30  # well into the stream: the kill lands mid-send, many sends behind it
    while len(accepted) <= 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    late = sign_up_and_log_in(stack)  # made a moment before the kill
    late_profile = call(stack, "GET", "/v1/me", late["id_token"])
    assert late_profile.status_code == 200, late_profile.text
    if ctypes.util.find_library("eatmydata"):  # make deps installs it: DynamoDB Local skips fsync
        assert any("libeatmydata" in _maps(pid) for pid in descendants(running.process.pid) if _is_java(pid))
    running.stop(signal.SIGKILL)
    sender.join(10)
    assert running.leftovers() == set()
    assert len(accepted) > 20

    credentials = running.start()
    again = running_as_stack(running, credentials)

    for member in (early, late):
        login = call(again, "POST", "/v1/auth/login", json={"email": member["email"], "password": member["password"]})
        assert login.status_code == 200, (member["email"], login.text)
    # written to DynamoDB Local a moment before the kill (without an fsync): still there
    after = call(again, "GET", "/v1/me", call(again, "POST", "/v1/auth/login", json={
        "email": late["email"], "password": late["password"]}).json()["id_token"])
    assert after.status_code == 200
    assert after.json() == late_profile.json()
    missing = set(accepted)

    def all_processed():
        missing.difference_update({c for c in list(missing) if system_record(credentials, "canary", c)})
        return not missing

    assert wait_until(all_processed, timeout=20, interval=1), \
        f"{len(missing)} of {len(accepted)} accepted messages were lost: {sorted(missing)[:3]}"
    sqs = aws_client(credentials, "sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"]) == len(delayed)
    waiting = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    assert [json.loads(m["Body"])["args"]["id"] for m in waiting] == [dead]
    running.stop()
    assert running.leftovers() == set()


def _is_java(pid: int) -> bool:
    try:
        return b"java" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False


def _maps(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/maps").read()
    except OSError:
        return ""
