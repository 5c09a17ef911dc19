"""Operations on a deployed tenant: ``python -m infra.ops <command>`` (the ``make`` targets call it).

- ``new-tenant`` — write ``infra/tenants/<id>.json`` from a few questions (validated).
- ``dlq --tenant T --queue Q`` — show what waits in a dead-letter queue, with why it failed.
- ``redrive --tenant T --queue Q`` — move a dead-letter queue's messages back to their queue.
- ``rotate-admin-key --tenant T`` — issue a new admin key; the old one stops within 5 minutes.
- ``apply-tiers --tenant T`` — PUT the settings' tiers to the tenant's API with the admin key.
- ``recount-leaderboard --tenant T`` — after an upgrade that changes the leaderboard's count
  layout: queue the jobs that count every member's scores in it (ranks are exact once done).

Credentials and region come from the usual AWS variables and the tenant settings;
``--local`` works on the ``make dev`` stack instead (its names and endpoints).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from chalicelib import resources
from infra.settings import TENANTS, InvalidSettings, load, parse

QUEUES = tuple(spec.logical_name for spec in resources.QUEUES)  # jobs, events, <consumer>-inbox...


@dataclass(frozen=True)
class Target:
    """Where to act: a prefix (``punchcard-<tenant>``), a region and, locally, an endpoint."""

    prefix: str
    region: str
    endpoint: str | None = None

    def client(self, service: str):
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint)

    def queue_url(self, logical: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=f"{self.prefix}-{logical}")["QueueUrl"]


def target(tenant: str | None, local: bool) -> Target:
    if local:
        port = os.environ.get("PUNCHCARD_MOTO_PORT", "8011")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        return Target("punchcard-local", "us-east-1", os.environ.get("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}"))
    settings = load(tenant or "")
    return Target(settings.prefix, settings.region)


def _queue(name: str) -> str:
    if name not in QUEUES:
        raise InvalidSettings(f"--queue is one of {', '.join(QUEUES)}")
    return name


def peek(where: Target, queue: str, limit: int = 50) -> list[dict[str, Any]]:
    """Up to ``limit`` messages of ``queue``'s DLQ, left where they are: each is hidden while the
    look lasts (so none is read twice), then made visible again."""
    sqs, url = where.client("sqs"), where.queue_url(f"{queue}-dlq")
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    try:
        while len(seen) < limit:
            reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, limit - len(seen)),
                                        VisibilityTimeout=60, WaitTimeSeconds=0, AttributeNames=["All"],
                                        MessageAttributeNames=["All"])
            messages = reply.get("Messages", [])
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                attributes = message.get("MessageAttributes", {})
                seen[message["MessageId"]] = {
                    "id": message["MessageId"], "body": message["Body"],
                    "reason": attributes.get("reason", {}).get("StringValue", "failed every retry"),
                    "receives": int(message["Attributes"].get("ApproximateReceiveCount", 0)),
                    "sent_at": int(message["Attributes"].get("SentTimestamp", 0)) // 1000}
    finally:
        for start in range(0, len(handles), 10):  # put them back: this was only a look
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(handles[start:start + 10])])
    return list(seen.values())


def redrive(where: Target, queue: str) -> int:
    """Move each message that waits in ``queue``'s DLQ back to ``queue``, once.

    Only messages sent to the DLQ before the redrive began move: one that fails again while it
    runs comes back as a message sent later (the handler dead-letters poison itself; SQS's own
    redrive keeps the first send time, which is also later than the start), and stays for the
    next look. Each is sent first, then deleted, so a crash between the two duplicates a
    message (every consumer is idempotent) and loses none."""
    sqs = where.client("sqs")
    source, destination, moved = where.queue_url(f"{queue}-dlq"), where.queue_url(queue), 0
    began_ms = int(time.time() * 1000)
    seen: set[str] = set()
    later: dict[str, str] = {}  # hidden while the redrive runs (so not read again), then put back
    try:
        while True:
            messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                           WaitTimeSeconds=0, AttributeNames=["SentTimestamp"],
                                           MessageAttributeNames=["All"]).get("Messages", [])
            if not messages:
                return moved
            due = []
            for message in messages:
                if message["MessageId"] in seen or int(message["Attributes"]["SentTimestamp"]) > began_ms:
                    later[message["MessageId"]] = message["ReceiptHandle"]
                else:
                    due.append(message)
            if not due:
                continue
            sent = sqs.send_message_batch(QueueUrl=destination, Entries=[
                {"Id": str(i), "MessageBody": m["Body"], **_attributes(m)} for i, m in enumerate(due)])
            if sent.get("Failed"):
                raise RuntimeError(f"could not send {len(sent['Failed'])} messages back: {sent['Failed'][0]}")
            sqs.delete_message_batch(QueueUrl=source, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(due)])
            seen.update(m["MessageId"] for m in due)
            moved += len(due)
    finally:
        handles = list(later.values())
        for start in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(QueueUrl=source, Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(handles[start:start + 10])])


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    """The message's own attributes, without the reason it was dead-lettered for."""
    kept = {k: v for k, v in (message.get("MessageAttributes") or {}).items() if k != "reason"}
    return {"MessageAttributes": kept} if kept else {}


def rotate_admin_key(where: Target) -> str:
    """A new admin key in the tenant's secret; returned once, never stored elsewhere."""
    from chalicelib.identity import keys

    key = keys.new_admin_key()
    where.client("secretsmanager").put_secret_value(SecretId=f"{where.prefix}/admin-key", SecretString=key)
    return key


def apply_tiers(where: Target, tiers: dict[str, Any], api_url: str | None = None) -> dict[str, Any]:
    """PUT the tiers to the tenant's API (URL from the stack's outputs) with its admin key."""
    import requests

    if api_url is None:
        stack = where.client("cloudformation").describe_stacks(StackName=where.prefix)["Stacks"][0]
        api_url = next(o["OutputValue"] for o in stack.get("Outputs", []) if o["OutputKey"] == "ApiUrl")
    key = where.client("secretsmanager").get_secret_value(SecretId=f"{where.prefix}/admin-key")["SecretString"]
    reply = requests.put(f"{api_url.rstrip('/')}/v1/tiers", json=tiers, timeout=30,
                         headers={"Authorization": f"Bearer {key}"})
    if not reply.ok:
        raise RuntimeError(f"the API refused the tiers ({reply.status_code}): {reply.text[:500]}")
    return reply.json()


def recount_leaderboard(where: Target, segments: int = 4) -> int:
    """Queue ``leaderboard.recount`` on the tenant's ``jobs`` queue, a scan segment a message."""
    from chalicelib.leaderboard import model

    sqs, url = where.client("sqs"), where.queue_url("jobs")
    for body in model.recount_jobs(segments):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    return segments


QUESTIONS = (
    ("tenant", "Tenant id (lowercase letters, digits, dashes; 3-20)", None),
    ("region", "AWS region", "eu-west-1"),
    ("environment", "production or staging", "production"),
    ("program_name", "Program name members see", None),
    ("points_name", "What points are called", "points"),
    ("timezone", "Program timezone (IANA)", "UTC"),
    ("mail_domain", "Mail domain (verified in SES)", None),
    ("sender", "Sender address", None),
    ("alarm_email", "E-mail for alarms", None),
)


def new_tenant(ask: Callable[[str], str] = input) -> str:
    """Ask, validate, write ``infra/tenants/<id>.json``; returns its path. Asks again on a bad answer."""
    while True:
        answers = {}
        for key, text, default in QUESTIONS:
            if key == "sender":
                default = f"rewards@{answers['mail_domain']}"
            value = ask(f"{text}{f' [{default}]' if default else ''}: ").strip()
            answers[key] = value or default or ""
        data = {"tenant": answers["tenant"], "region": answers["region"], "environment": answers["environment"],
                "program": {"name": answers["program_name"], "points_name": answers["points_name"],
                            "timezone": answers["timezone"]},
                "expiry": {"points_expire_after": "P12M"}, "tiers": None,
                "mail": {"sender": answers["sender"], "domain": answers["mail_domain"]},
                "web": {"domain": None, "certificate_arn": None}, "alarm_email": answers["alarm_email"],
                "api": {"throttle_rate_per_second": 100, "throttle_burst": 200}, "log_retention_days": 30}
        try:
            parse(data)
        except InvalidSettings as e:
            print(f"! {e} — let's try again", file=sys.stderr)
            continue
        path = TENANTS / f"{data['tenant']}.json"
        if path.exists():
            print(f"! {path.name} exists already: edit it instead, or choose another id", file=sys.stderr)
            continue
        path.write_text(json.dumps(data, indent=2) + "\n")
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("new-tenant", help="create infra/tenants/<id>.json from questions")
    for name in ("dlq", "redrive", "rotate-admin-key", "apply-tiers", "recount-leaderboard"):
        command = commands.add_parser(name)
        command.add_argument("--tenant", default="")
        command.add_argument("--local", action="store_true", help="the make dev stack")
        if name in ("dlq", "redrive"):
            command.add_argument("--queue", required=True)
        if name == "dlq":
            command.add_argument("--limit", type=int, default=50)
        if name == "apply-tiers":
            command.add_argument("--api", help="the API's URL (default: the stack's ApiUrl output)")
    args = parser.parse_args(argv)
    try:
        if args.command == "new-tenant":
            print(f"wrote {new_tenant()}: review it, then make synth TENANT=<id>")
            return 0
        where = target(args.tenant, args.local)
        if args.command == "dlq":
            found = peek(where, _queue(args.queue), args.limit)
            for message in found:
                print(json.dumps(message))
            print(f"{len(found)} message(s) in {where.prefix}-{args.queue}-dlq (left in place)", file=sys.stderr)
        elif args.command == "redrive":
            moved = redrive(where, _queue(args.queue))
            print(f"moved {moved} message(s) from {where.prefix}-{args.queue}-dlq back to {where.prefix}-{args.queue}")
        elif args.command == "rotate-admin-key":
            print(rotate_admin_key(where))
            print("the new admin key (shown once); the old one stops working within 5 minutes", file=sys.stderr)
        elif args.command == "apply-tiers":
            tiers = load(args.tenant).data.get("tiers") if not args.local else None
            if not tiers:
                print("the tenant settings have no tiers", file=sys.stderr)
                return 2
            print(json.dumps(apply_tiers(where, tiers, args.api)))
        elif args.command == "recount-leaderboard":
            sent = recount_leaderboard(where)
            print(f"queued {sent} leaderboard.recount job(s) on {where.prefix}-jobs; ranks are exact once done")
    except InvalidSettings as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
