"""The local stack's moto, made cheaper per request by ``faster_events`` and ``faster_dispatch``,
still delivers what AWS would."""

import json
import os

import boto3
import jsonpath_ng.parser
from moto import backends, mock_aws

from devstack.moto_server import faster_dispatch, faster_events


def _bus_to_queue():
    events, sqs = boto3.client("events", "us-east-1"), boto3.client("sqs", "us-east-1")
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name="domain")
    events.put_rule(Name="earned", EventBusName="domain", EventPattern=json.dumps({"detail-type": ["points.earned"]}))
    events.put_targets(Rule="earned", EventBusName="domain", Targets=[{"Id": "inbox", "Arn": arn}])
    return events, sqs, url


def _put(events, n: int) -> None:
    events.put_events(Entries=[{"EventBusName": "domain", "Source": "punchcard", "DetailType": "points.earned",
                                "Detail": json.dumps({"member_id": f"m{n}", "points": n})}])


@mock_aws
def test_each_input_path_is_parsed_once_and_every_event_arrives_whole(monkeypatch):
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:  # set by the stacks of other suites
        monkeypatch.delenv(name)
    faster_events()
    events, sqs, url = _bus_to_queue()
    _put(events, 1)  # parses the default input paths (at most once each)
    built = []
    original = jsonpath_ng.parser.JsonPathParser.__init__
    monkeypatch.setattr(jsonpath_ng.parser.JsonPathParser, "__init__",
                        lambda self, *a, **k: built.append(1) or original(self, *a, **k))

    for n in range(2, 6):
        _put(events, n)

    assert built == []  # moto 5.2: a new PLY parser per input path, target and event
    got = []
    while len(got) < 5:
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    bodies = sorted((json.loads(m["Body"]) for m in got), key=lambda b: b["detail"]["points"])
    assert [b["detail"] for b in bodies] == [{"member_id": f"m{n}", "points": n} for n in range(1, 6)]
    assert {b["detail-type"] for b in bodies} == {"points.earned"}
    assert all(b["source"] == "punchcard" and b["id"] for b in bodies)


def test_the_service_modules_are_listed_once(monkeypatch):
    faster_dispatch()
    listed = backends.list_of_moto_modules()
    assert {"sqs", "events", "dynamodb"} <= set(listed)
    assert "__pycache__" not in listed
    monkeypatch.setattr(backends.os, "listdir", lambda path: (_ for _ in ()).throw(AssertionError("listed again")))
    assert backends.list_of_moto_modules() == listed
