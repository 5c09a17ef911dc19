"""The data part of the template (DynamoDB, SQS, S3, the EventBridge bus and its rules) deploys into
moto's CloudFormation, and what it creates is what the local stack provisions from the same models."""

from __future__ import annotations

import copy
import json

import pytest

from tests.infra.conftest import resources

pytestmark = pytest.mark.slow

DATA_TYPES = ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::Events::EventBus",
              "AWS::Events::Rule")


def data_subset(template: dict) -> dict:
    """The template's tables, queues, buckets, bus and rules, as they are (moto cannot create the rest)."""
    kept = copy.deepcopy({k: v for k, v in template["Resources"].items() if v["Type"] in DATA_TYPES})
    for resource in kept.values():
        resource.pop("DependsOn", None)
        bus = resource["Properties"].get("EventBusName") if resource["Type"] == "AWS::Events::Rule" else None
        if isinstance(bus, dict) and "Ref" in bus:  # moto 5.2 resolves a Ref to a bus as its object, not its name
            resource["Properties"]["EventBusName"] = kept[bus["Ref"]]["Properties"]["Name"]
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}


def local_definitions() -> dict[str, dict]:
    from infra.settings import load

    with load("example").environment():
        from chalicelib.store.tables import table_definitions

        return {d["table_name"]: d for d in table_definitions()}


def _gsis(indexes) -> dict:
    return {i.get("IndexName") or i["index_name"]: (
        sorted((k["AttributeName"], k["KeyType"]) for k in (i.get("KeySchema") or i["key_schema"])),
        (i.get("Projection") or i["projection"])["ProjectionType"]) for i in indexes or []}


def test_the_templates_tables_are_the_local_stacks_tables(template):
    local = local_definitions()
    synthesized = {t["Properties"]["TableName"]: t["Properties"]
                   for t in resources(template, "AWS::DynamoDB::Table").values()}
    assert set(synthesized) == set(local)
    for name, table in synthesized.items():
        mine = local[name]
        assert sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]) == \
            sorted((k["AttributeName"], k["KeyType"]) for k in mine["key_schema"]), name
        assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == \
            {(a["AttributeName"], a["AttributeType"]) for a in mine["attribute_definitions"]}, name
        assert _gsis(table.get("GlobalSecondaryIndexes")) == _gsis(mine["global_secondary_indexes"]), name
        ttl = table.get("TimeToLiveSpecification")
        assert (ttl["AttributeName"] if ttl else None) == mine["ttl_attribute"], name


def test_the_data_part_deploys_into_moto_cloudformation(template):
    import boto3
    from moto import mock_aws

    subset = data_subset(template)
    local = local_definitions()
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="eu-west-1")
        cloudformation.create_stack(StackName="punchcard-example", TemplateBody=json.dumps(subset))
        stack = cloudformation.describe_stacks(StackName="punchcard-example")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack

        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(local)
        for name, mine in local.items():
            table = dynamodb.describe_table(TableName=name)["Table"]
            assert sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]) == \
                sorted((k["AttributeName"], k["KeyType"]) for k in mine["key_schema"])
            assert _gsis(table.get("GlobalSecondaryIndexes")) == _gsis(mine["global_secondary_indexes"]), name
            assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

        sqs = boto3.client("sqs", region_name="eu-west-1")
        for queue in ("jobs", "events", "leaderboard-inbox", "analytics-inbox", "tiers-inbox"):
            url = sqs.get_queue_url(QueueName=f"punchcard-example-{queue}")["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            redrive = json.loads(attributes["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"].endswith(f":punchcard-example-{queue}-dlq")
            assert int(redrive["maxReceiveCount"]) == 5

        # the bus routes each domain event to the queue of every consumer that reads its type, and no other
        from chalicelib.resources import CONSUMERS

        events = boto3.client("events", region_name="eu-west-1")
        for kind in ("points.earned", "redemption.fulfilled", "tier.upgraded"):
            reply = events.put_events(Entries=[{"Source": "punchcard", "DetailType": kind, "EventBusName":
                                                "punchcard-example-domain", "Detail": json.dumps({"type": kind})}])
            assert reply["FailedEntryCount"] == 0
            for consumer in CONSUMERS:
                url = sqs.get_queue_url(QueueName=f"punchcard-example-{consumer.name}-inbox")["QueueUrl"]
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                assert [json.loads(m["Body"])["detail-type"] for m in got] == \
                    ([kind] if kind in consumer.types else []), (kind, consumer.name)
                for m in got:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

        s3 = boto3.client("s3", region_name="eu-west-1")  # (its public access block: test_stack checks the template)
        assert "punchcard-example-web" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
