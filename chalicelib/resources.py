"""Queues, buckets and mail identities of a deployment: the one list both stacks read.

Tables live in :mod:`chalicelib.store.tables`. Physical names always come from
:mod:`chalicelib.config`, so two tenants or stages never clash.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import config


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue and its dead-letter queue.

    ``visibility_timeout`` must exceed the consuming function's timeout (AWS advises 6x);
    after ``max_receive_count`` failed receives a message moves to the DLQ, where it stays
    ``dlq_retention`` seconds for inspection and redrive. ``batching_window``: seconds Lambda
    may gather messages before it calls the function with fewer than ``batch_size`` (0: at once).
    """

    logical_name: str
    purpose: str
    visibility_timeout: int = 180
    max_receive_count: int = 5
    retention: int = 4 * 24 * 3600
    dlq_retention: int = 14 * 24 * 3600
    batch_size: int = 10
    batching_window: int = 0
    function_timeout: int = 30

    @property
    def dlq_logical_name(self) -> str:
        return f"{self.logical_name}-dlq"

    @property
    def name(self) -> str:
        return config.queue_name(self.logical_name)

    @property
    def dlq_name(self) -> str:
        return config.queue_name(self.dlq_logical_name)


@dataclass(frozen=True)
class BucketSpec:
    logical_name: str
    purpose: str

    @property
    def name(self) -> str:
        return config.bucket_name(self.logical_name)


JOBS = QueueSpec(
    "jobs",
    "Background jobs: fan-out of scheduled work and operational canaries.",
)

EVENTS = QueueSpec(
    "events",
    "Accepted events, one message each ({\"event_id\"}): the earn pipeline evaluates and grants.",
)

@dataclass(frozen=True)
class BusSpec:
    """The EventBridge bus domain events are published on (:mod:`chalicelib.bus`)."""

    logical_name: str
    purpose: str
    source: str = "punchcard"  # every event's ``source``: the rules match on it

    @property
    def name(self) -> str:
        return config.bus_name(self.logical_name)


DOMAIN_BUS = BusSpec("domain", "Domain events (points.earned, tier.upgraded...): a rule per consumer.")


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer of domain events: a rule on the bus delivers the ``types`` it reads to its own
    queue (with its own dead-letter queue), and its own function drains it. A failing consumer
    fails alone: the others' copies of the same event are in other queues.

    ``handler`` is the function's name in ``app.py``; ``tables`` (logical names) what it may
    read and write (least privilege in the cloud stack); ``publishes``: it puts domain events
    of its own on the bus.
    """

    name: str
    purpose: str
    types: tuple[str, ...]
    tables: tuple[str, ...]
    publishes: bool = False
    batch_size: int = 10
    batching_window: int = 0
    max_receive_count: int = 5

    @property
    def queue(self) -> QueueSpec:
        return QueueSpec(f"{self.name}-inbox", f"Domain events for the {self.name} consumer: {self.purpose}",
                         batch_size=self.batch_size, batching_window=self.batching_window,
                         max_receive_count=self.max_receive_count)

    @property
    def handler(self) -> str:
        return f"consume_{self.name}"

    @property
    def rule_name(self) -> str:
        return f"{config.prefix()}-to-{self.name}"

    def event_pattern(self) -> dict:
        return {"source": [DOMAIN_BUS.source], "detail-type": list(self.types)}


# The consumer table: adding a consumer is a module, a line here and a line in
# chalicelib.bootstrap.CONSUMERS (the tests check that both name the same consumers).
CONSUMERS: tuple[ConsumerSpec, ...] = (
    # The leaderboard and analytics apply a batch in shared transactions (a page of bucket
    # counts, a day's counters written once a batch): a second of gathering fills their batches.
    ConsumerSpec("leaderboard", "members' scores on the boards.", ("points.earned", "points.reversed"),
                 tables=("standings",), batching_window=1),
    ConsumerSpec("analytics", "the brands' daily counters.",
                 ("points.earned", "event.processed", "event.failed", "points.reversed", "points.adjusted",
                  "redemption.fulfilled", "redemption.cancelled"), tables=("analytics",), batching_window=1),
    ConsumerSpec("tiers", "members' standings: upgrades recorded, lapses scheduled, tier.* events.",
                 ("points.earned", "points.reversed"), tables=("standings", "ledger"), publishes=True),
)

QUEUES: tuple[QueueSpec, ...] = (JOBS, EVENTS, *(consumer.queue for consumer in CONSUMERS))

WEB = BucketSpec("web", "The static member app and brand console (served by CloudFront).")

BUCKETS: tuple[BucketSpec, ...] = (WEB,)


def mail_identities() -> tuple[str, ...]:
    """SES identities to verify: the sender address of this deployment."""
    return (config.mail_from(),)


@dataclass(frozen=True)
class UserPoolSpec:
    """The Cognito user pool of members and its app client (no secret: public web app).

    Usernames are member ids; e-mail is a verified attribute. USER_PASSWORD_AUTH is used by
    the API's own /v1/auth/login (over TLS, server side), REFRESH_TOKEN_AUTH by /v1/auth/refresh.
    """

    logical_name: str = "members"
    min_password_length: int = 8
    id_token_minutes: int = 60
    refresh_token_days: int = 30
    auth_flows: tuple[str, ...] = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")

    @property
    def name(self) -> str:
        return f"{config.prefix()}-{self.logical_name}"

    def password_policy(self) -> dict:
        # Length over composition rules (NIST SP 800-63B): no forced digits or symbols.
        return {"MinimumLength": self.min_password_length, "RequireUppercase": False,
                "RequireLowercase": False, "RequireNumbers": False, "RequireSymbols": False}


USER_POOL = UserPoolSpec()
