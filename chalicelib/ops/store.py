"""Heartbeats and canary receipts in the ``system`` table."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.store.system import SystemRecord

CANARY_RETENTION = timedelta(days=7)


def beat(name: str, at: datetime) -> None:
    """Record that the schedule ``name`` fired at ``at`` (one write, no read)."""
    SystemRecord(pk="heartbeat", sk=name).update(actions=[
        SystemRecord.count.add(1),
        SystemRecord.updated_at.set(at),
    ])


def record_canary(canary_id: str, at: datetime) -> None:
    """Record a canary's delivery; a duplicate delivery shows as ``count`` > 1."""
    SystemRecord(pk="canary", sk=canary_id).update(actions=[
        SystemRecord.count.add(1),
        SystemRecord.updated_at.set(at),
        SystemRecord.expires_at.set(at + CANARY_RETENTION),
    ])


def get(pk: str, sk: str) -> SystemRecord | None:
    try:
        return SystemRecord.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def put_once(pk: str, sk: str, at: datetime, data: dict | None = None) -> bool:
    """Create a record unless it exists; True when this call created it."""
    try:
        SystemRecord(pk=pk, sk=sk, updated_at=at, count=1, data=data).save(
            condition=SystemRecord.pk.does_not_exist())
    except PutError as e:
        if e.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
