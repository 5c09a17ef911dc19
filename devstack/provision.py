"""Create every table, queue, bucket and mail identity from the app's own definitions.

Idempotent: run on every start against whatever already exists (DynamoDB Local keeps tables
on disk; moto starts empty each time).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from chalicelib import aws, resources
from chalicelib.store.tables import MODELS, ttl_attribute


@dataclass(frozen=True)
class ProvisionedQueue:
    spec: resources.QueueSpec
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


def create_tables() -> list[str]:
    """Create missing tables (and TTL) from the pynamodb models; returns their names."""
    names = []
    dynamodb = aws.client("dynamodb")
    for model in MODELS:
        name = model.Meta.table_name
        if not model.exists():
            model.create_table(wait=True, billing_mode=model.Meta.billing_mode)  # sets TTL too
        ttl = ttl_attribute(model)
        if ttl:
            status = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if status.get("TimeToLiveStatus") in (None, "DISABLED"):
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": ttl})
        names.append(name)
    return names


def _queue(name: str, attributes: dict[str, str]) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # create ignores changes
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def create_queues(visibility_scale: float = 1.0, specs: tuple[resources.QueueSpec, ...] = resources.QUEUES,
                  ) -> list[ProvisionedQueue]:
    """Each queue with its DLQ and redrive policy.

    ``visibility_scale`` < 1 shortens visibility timeouts so that local retries come round in
    seconds (the dev stack's --speedup); the cloud stack always uses the specified values.
    """
    created = []
    for spec in specs:
        dlq_url, dlq_arn = _queue(spec.dlq_name, {"MessageRetentionPeriod": str(spec.dlq_retention)})
        visibility = max(1, round(spec.visibility_timeout * visibility_scale))
        url, arn = _queue(spec.name, {
            "VisibilityTimeout": str(visibility),
            "MessageRetentionPeriod": str(spec.retention),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": str(spec.max_receive_count)}),
        })
        created.append(ProvisionedQueue(spec, url, arn, dlq_url, dlq_arn))
    return created


def create_bus(queues: list[ProvisionedQueue],
               consumers: tuple[resources.ConsumerSpec, ...] = resources.CONSUMERS) -> dict[str, str]:
    """The domain-event bus and, per consumer, its rule and its queue as the rule's target, from
    the same consumer table the cloud stack reads (``resources.CONSUMERS``). moto routes
    ``PutEvents`` to SQS targets by the rules' patterns, as EventBridge does. Returns rule → queue."""
    events = aws.client("events")
    bus = resources.DOMAIN_BUS.name
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=bus)
    arns = {q.spec.logical_name: q.arn for q in queues}
    routed = {}
    for consumer in consumers:
        events.put_rule(Name=consumer.rule_name, EventBusName=bus, State="ENABLED",
                        EventPattern=json.dumps(consumer.event_pattern()),
                        Description=f"Domain events for the {consumer.name} consumer")
        events.put_targets(Rule=consumer.rule_name, EventBusName=bus,
                           Targets=[{"Id": "queue", "Arn": arns[consumer.queue.logical_name]}])
        routed[consumer.rule_name] = consumer.queue.name
    return routed


def create_buckets() -> list[str]:
    s3 = aws.client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for spec in resources.BUCKETS:
        if spec.name not in existing:
            s3.create_bucket(Bucket=spec.name)
    return [spec.name for spec in resources.BUCKETS]


def verify_mail_identities() -> list[str]:
    ses = aws.client("ses")
    identities = list(resources.mail_identities())
    for identity in identities:
        ses.verify_email_identity(EmailAddress=identity)
    return identities


def provision_all(visibility_scale: float = 1.0) -> dict:
    queues = create_queues(visibility_scale)
    return {
        "tables": create_tables(),
        "queues": queues,
        "rules": create_bus(queues),
        "buckets": create_buckets(),
        "mail_identities": verify_mail_identities(),
    }
