"""Least privilege: what each Lambda function may do, named table by table and queue by queue.

The matrix below is the whole of it; :func:`statements` turns a function's row into IAM
statements on the tenant's own ARNs. No statement has ``Action: "*"``; the only
``Resource: "*"`` is X-Ray's, which has no resource-level permissions (docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from chalicelib.resources import CONSUMERS

if TYPE_CHECKING:
    from infra.stack import TenantStack

ALL = "*all*"
READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem"]
WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
SEND = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes",
           "sqs:GetQueueUrl"]


@dataclass(frozen=True)
class Access:
    tables: tuple[str, ...] | str  # logical names, or ALL
    write: bool = True
    send: tuple[str, ...] = ()  # queues it puts messages on
    publish: bool = False  # puts domain events on the bus
    consume: str | None = None  # the queue it is triggered by (and whose DLQ takes its poison)
    member_logins: bool = False  # Cognito admin calls on the member pool
    admin_key: bool = False  # reads the admin key secret


ACCESS: dict[str, Access] = {
    # every route: all data, all queues, sign-up/erasure in Cognito, admin key checks, domain events
    "api_handler": Access(ALL, send=("jobs", "events"), publish=True, member_logins=True, admin_key=True),
    # API Gateway's authorizer: brand keys and member standing, read only
    "punchcard_auth": Access(("identity", "members"), write=False, admin_key=True),
    # background jobs: expiry, tier reviews, canaries (each fans out further jobs and publishes what happened)
    "process_jobs": Access(ALL, send=("jobs",), publish=True, consume="jobs"),
    # the earn pipeline: events, rules, members' facts, the ledger, tiers
    "process_events": Access(ALL, publish=True, consume="events"),
    "heartbeat": Access(("system",)),
    "expire_points": Access(("ledger", "system"), send=("jobs",)),
    "sweep_events": Access(("events",), send=("events",)),
    "sweep_redemptions": Access(("rewards", "ledger"), publish=True),
    "review_tiers": Access(("standings", "system"), send=("jobs",)),
    # each consumer of domain events: its own tables, its own queue (chalicelib.resources.CONSUMERS)
    **{c.handler: Access(c.tables, consume=c.queue.logical_name, publish=c.publishes) for c in CONSUMERS},
}


def _table_arns(stack: TenantStack, names) -> list[str]:
    chosen = stack.tables if names == ALL else {n: stack.tables[n] for n in names}
    return [arn for table in chosen.values() for arn in (table.attr_arn, f"{table.attr_arn}/index/*")]


def statements(handler: str, stack: TenantStack) -> list[iam.PolicyStatement]:
    access = ACCESS[handler]
    found = [iam.PolicyStatement(sid="Tables", actions=READ + (WRITE if access.write else []),
                                 resources=_table_arns(stack, access.tables))]
    if access.send:
        found.append(iam.PolicyStatement(sid="Send", actions=SEND,
                                         resources=[stack.queues[q].queue_arn for q in access.send]))
    if access.publish:
        found.append(iam.PolicyStatement(sid="Publish", actions=["events:PutEvents"],
                                         resources=[stack.bus.event_bus_arn]))
    if access.consume:
        found.append(iam.PolicyStatement(sid="Consume", actions=CONSUME,
                                         resources=[stack.queues[access.consume].queue_arn]))
        # poison goes straight to the DLQ with its reason (chalicelib.queues.dead_letter)
        found.append(iam.PolicyStatement(sid="DeadLetter", actions=SEND,
                                         resources=[stack.dlqs[access.consume].queue_arn]))
    if access.member_logins:
        found.append(iam.PolicyStatement(
            sid="MemberLogins", resources=[stack.user_pool.user_pool_arn],
            actions=["cognito-idp:AdminConfirmSignUp", "cognito-idp:AdminDeleteUser", "cognito-idp:AdminGetUser"]))
    if access.admin_key:
        found.append(iam.PolicyStatement(sid="AdminKey", actions=["secretsmanager:GetSecretValue"],
                                         resources=[stack.admin_key.secret_arn]))
    log_group = Stack.of(stack).format_arn(service="logs", resource="log-group",
                                           resource_name=f"/aws/lambda/{stack.function_name(handler)}:*",
                                           arn_format=_colon())
    found.append(iam.PolicyStatement(sid="Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                     resources=[log_group]))
    found.append(iam.PolicyStatement(sid="Tracing", actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                                     resources=["*"]))  # X-Ray has no resource-level permissions
    return found


def _colon():
    from aws_cdk import ArnFormat

    return ArnFormat.COLON_RESOURCE_NAME
