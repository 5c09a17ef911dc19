"""Activities in DynamoDB: every change is one transaction (head, new version, ruleset bump)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import errors
from chalicelib.store.base import connection
from chalicelib.store.rules import ActivityHead, ActivityVersion, RulesetItem, brand_pk


def get(brand_id: str, activity_id: str) -> ActivityHead | None:
    try:
        return ActivityHead.get(*ActivityHead.key_for(brand_id, activity_id), consistent_read=True)
    except DoesNotExist:
        return None


def version(brand_id: str, activity_id: str, number: int) -> ActivityVersion | None:
    try:
        return ActivityVersion.get(*ActivityVersion.key_for(brand_id, activity_id, number))
    except DoesNotExist:
        return None


def heads(brand_id: str) -> list[ActivityHead]:
    """Every activity of the brand (current versions), in one query."""
    return list(ActivityHead.query(brand_pk(brand_id), ActivityHead.sk.startswith("ACTIVITY#"), consistent_read=True))


def ruleset_version(brand_id: str) -> int:
    try:
        # strongly consistent: a change is live for the next event, not a replication lag later
        return int(RulesetItem.get(*RulesetItem.key_for(brand_id), consistent_read=True).version)
    except DoesNotExist:
        return 0


def save(head: ActivityHead, definition: dict, now: datetime) -> ActivityHead:
    """Write ``head`` as the activity's next version: the version item, the head (conditioned on
    the version it replaces) and the ruleset bump, all or nothing."""
    brand_id = head.pk.removeprefix("BRAND#")
    activity_id = head.activity_id
    previous = head.version - 1
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(ActivityVersion(*ActivityVersion.key_for(brand_id, activity_id, head.version),
                                    definition=definition, created_at=now),
                    condition=ActivityVersion.pk.does_not_exist())
            tx.save(head, condition=ActivityHead.pk.does_not_exist() if previous == 0
                    else ActivityHead.version == previous)
            tx.update(RulesetItem(*RulesetItem.key_for(brand_id)), actions=[RulesetItem.version.add(1)])
    except TransactWriteError as e:
        raise errors.Conflict("The activity changed meanwhile: read it again and retry.",
                              code="concurrent_update", details={"activity_id": activity_id}) from e
    return head
