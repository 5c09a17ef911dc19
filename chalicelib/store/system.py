"""The ``system`` table: operational records (schedule heartbeats, canary receipts)."""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute

from chalicelib.store.base import PunchcardModel, TableMeta


class SystemRecord(PunchcardModel):
    """One operational fact, keyed by kind (``pk``) and instance (``sk``)."""

    class Meta(TableMeta):
        logical_name = "system"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    updated_at = UTCDateTimeAttribute(null=True)
    count = NumberAttribute(default=0)
    data = MapAttribute(null=True)
    expires_at = TTLAttribute(null=True)
