"""The local stack over real HTTP: API, static web, queues, DLQ, schedules, restarts, clean stops."""

import json
import os
import signal
import subprocess
import uuid

import pytest
import requests

from tests.e2e.conftest import ROOT, aws_client, descendants, wait_until
from tests.e2e.helpers import call, sign_up_and_log_in


def running_as_stack(running, credentials):
    running.credentials = credentials
    return running

pytestmark = pytest.mark.slow

SYSTEM_TABLE = "punchcard-local-system"


def system_record(credentials, pk, sk):
    item = aws_client(credentials, "dynamodb").get_item(
        TableName=SYSTEM_TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item")
    return item


def queue_url(credentials, name):
    return aws_client(credentials, "sqs").get_queue_url(QueueName=name)["QueueUrl"]


def test_credentials_name_the_api_root(stack):
    credentials = json.loads(stack.credentials_path.read_text())

    assert credentials["api"] == f"http://127.0.0.1:{stack.port}"
    assert credentials["web"] == credentials["api"]
    assert requests.get(credentials["api"] + "/health", timeout=5).json() == {"status": "ok"}


def test_openapi_and_the_web_app_are_served(stack):
    api = stack.credentials["api"]

    spec = requests.get(api + "/openapi.json", timeout=5)
    page = requests.get(api + "/", timeout=5)

    assert spec.json()["openapi"].startswith("3.1")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Punchcard" in page.text


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/v1/no-such-thing", 404, "route_not_found"),
    ("POST", "/v1/members/x/y/z", 404, "route_not_found"),
    ("POST", "/health", 405, "method_not_allowed"),
    ("GET", "/missing.js", 404, "not_found"),
])
def test_unknown_routes_answer_in_the_error_shape(stack, method, path, status, code):
    response = requests.request(method, stack.credentials["api"] + path, timeout=5)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_wrong_content_type_and_oversize_bodies_answer_in_the_error_shape(stack):
    api = stack.credentials["api"]

    wrong_type = requests.get(api + "/health", headers={"Content-Type": "text/csv"}, timeout=5)
    oversize = requests.get(api + "/health", data=b"x" * (1024 * 1024 + 1),
                            headers={"Content-Type": "application/json"}, timeout=10)

    assert (wrong_type.status_code, wrong_type.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert (oversize.status_code, oversize.json()["error"]["code"]) == (413, "payload_too_large")


def test_a_message_on_a_queue_reaches_its_handler(stack):
    credentials = stack.credentials
    canary = str(uuid.uuid4())

    aws_client(credentials, "sqs").send_message(
        QueueUrl=queue_url(credentials, "punchcard-local-jobs"),
        MessageBody=json.dumps({"job": "canary.ping", "args": {"id": canary}}))

    record = wait_until(lambda: system_record(credentials, "canary", canary), timeout=20)
    assert record is not None, stack.output()
    assert record["count"]["N"] == "1"


def test_a_message_whose_handler_always_fails_ends_in_the_dlq(stack):
    credentials = stack.credentials
    sqs = aws_client(credentials, "sqs")
    canary = str(uuid.uuid4())

    sqs.send_message(QueueUrl=queue_url(credentials, "punchcard-local-jobs"),
                     MessageBody=json.dumps({"job": "canary.fail", "args": {"id": canary}}))

    dlq = queue_url(credentials, "punchcard-local-jobs-dlq")

    def dead_letter():
        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                           AttributeNames=["All"]).get("Messages", []):
            if json.loads(message["Body"])["args"]["id"] == canary:
                return message
        return None

    message = wait_until(dead_letter, timeout=45)
    assert message is not None, stack.output()
    assert int(message["Attributes"]["ApproximateReceiveCount"]) >= 5  # maxReceiveCount tries first


def test_the_heartbeat_schedule_fires_on_its_rate(stack):
    credentials = stack.credentials
    first = wait_until(lambda: system_record(credentials, "heartbeat", "heartbeat"), timeout=10)
    assert first is not None

    later = wait_until(lambda: (r := system_record(credentials, "heartbeat", "heartbeat"))
                       and int(r["count"]["N"]) >= int(first["count"]["N"]) + 2 and r, timeout=10)

    assert later is not None  # rate(1 minute) at speedup 120: a beat every 0.5 s


def test_state_survives_a_restart_and_seeding_does_not_duplicate(new_stack):
    running = new_stack()
    credentials = running.start()
    sqs = aws_client(credentials, "sqs")
    canary = str(uuid.uuid4())
    sqs.send_message(QueueUrl=queue_url(credentials, "punchcard-local-jobs"),
                     MessageBody=json.dumps({"job": "canary.ping", "args": {"id": canary}}))
    assert wait_until(lambda: system_record(credentials, "canary", canary), timeout=20)
    later = str(uuid.uuid4())  # accepted but not due until after the restart
    sqs.send_message(QueueUrl=queue_url(credentials, "punchcard-local-jobs"), DelaySeconds=8,
                     MessageBody=json.dumps({"job": "canary.ping", "args": {"id": later}}))
    seeded = system_record(credentials, "seed", "demo")
    first = credentials
    member = sign_up_and_log_in(running_as_stack(running, credentials))

    elapsed = running.stop()
    assert elapsed < 5, running.output()
    assert running.leftovers() == set()

    credentials = running.start()

    assert system_record(credentials, "canary", canary)["count"]["N"] == "1"
    assert system_record(credentials, "seed", "demo") == seeded  # not seeded again
    assert credentials["admin_key"] == first["admin_key"]  # restored into Secrets Manager
    assert credentials["brand_key"] == first["brand_key"]
    assert credentials["brand_id"] == first["brand_id"]
    again = running_as_stack(running, credentials)
    # logins survive, and tokens issued before the restart are still accepted
    assert call(again, "GET", "/v1/me", member["id_token"]).json()["id"] == member["id"]
    relogin = call(again, "POST", "/v1/auth/login", json={"email": member["email"], "password": member["password"]})
    assert relogin.status_code == 200
    assert wait_until(lambda: system_record(credentials, "canary", later), timeout=30), running.output()
    running.stop()
    assert running.leftovers() == set()


def test_make_dev_serves_and_stops_cleanly_on_sigterm(new_stack):
    running = new_stack(command=["make", "--no-print-directory", "dev"])

    credentials = running.start(timeout=300)
    assert requests.get(credentials["api"] + "/health", timeout=5).json() == {"status": "ok"}
    assert running.children, "make dev should have started the stack"

    elapsed = running.stop(signal.SIGTERM)

    assert elapsed < 5, running.output()
    assert running.leftovers() == set(), running.output()


def test_sigint_stops_everything_like_ctrl_c(new_stack):
    running = new_stack()
    running.start()

    elapsed = running.stop(signal.SIGINT)

    assert elapsed < 5
    assert running.leftovers() == set()
    assert running.process.returncode == 0


def test_make_reset_forgets_local_state(tmp_path):
    state = tmp_path / "local"
    (state / "dynamodb").mkdir(parents=True)
    (state / "credentials.json").write_text("{}")

    subprocess.run(["make", "--no-print-directory", "reset"], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "PUNCHCARD_STATE_DIR": str(state)})

    assert not state.exists()


def test_a_stop_request_while_starting_interrupts_the_start(new_stack):
    running = new_stack()
    running.launch()
    # wait until DynamoDB Local has been spawned, i.e. the stack is in the middle of starting
    assert wait_until(lambda: descendants(running.process.pid), timeout=30, interval=0.05)
    assert not running.credentials_path.exists()

    elapsed = running.stop(signal.SIGTERM)

    assert elapsed < 5, running.output()
    assert running.leftovers() == set()
    assert not running.credentials_path.exists()
