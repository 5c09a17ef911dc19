"""Every table, queue, bucket and identity exists as the definitions say, and provisioning is idempotent."""

import json

from chalicelib import resources
from chalicelib.store.tables import MODELS, table_definitions
from devstack import provision


def test_every_table_matches_its_definition(local_aws, dynamodb):
    for definition in table_definitions():
        table = dynamodb.describe_table(TableName=definition["table_name"])["Table"]
        assert sorted(table["KeySchema"], key=str) == sorted(definition["key_schema"], key=str)
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        if definition["ttl_attribute"]:
            ttl = dynamodb.describe_time_to_live(TableName=definition["table_name"])["TimeToLiveDescription"]
            assert ttl["TimeToLiveStatus"] == "ENABLED"
            assert ttl["AttributeName"] == definition["ttl_attribute"]


def test_every_queue_has_a_dead_letter_queue_with_a_redrive_policy(local_aws, sqs):
    for spec in resources.QUEUES:
        url = sqs.get_queue_url(QueueName=spec.name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        dlq_url = sqs.get_queue_url(QueueName=spec.dlq_name)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.loads(attributes["RedrivePolicy"])
        assert policy["deadLetterTargetArn"] == dlq_arn
        assert int(policy["maxReceiveCount"]) == spec.max_receive_count
        assert int(attributes["VisibilityTimeout"]) == spec.visibility_timeout
        assert spec.visibility_timeout >= spec.function_timeout


def test_buckets_and_mail_identity_exist(local_aws):
    from chalicelib import aws

    buckets = {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}
    assert {spec.name for spec in resources.BUCKETS} <= buckets
    identities = aws.client("ses").list_identities()["Identities"]
    assert set(resources.mail_identities()) <= set(identities)


def test_provisioning_again_changes_nothing(local_aws, dynamodb):
    before = {m.Meta.table_name: dynamodb.describe_table(TableName=m.Meta.table_name)["Table"]["CreationDateTime"]
              for m in MODELS}

    again = provision.provision_all()

    after = {m.Meta.table_name: dynamodb.describe_table(TableName=m.Meta.table_name)["Table"]["CreationDateTime"]
             for m in MODELS}
    assert before == after
    assert [q.url for q in again["queues"]] == [q.url for q in local_aws["provisioned"]["queues"]]
