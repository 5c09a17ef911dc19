"""The ``analytics`` table: per-brand aggregates the console's dashboard reads.

Items (written with boto3's low-level client by :mod:`chalicelib.analytics.store`, which
needs ``ADD`` on attribute names chosen at run time; this model declares the schema):
- ``STATS#<brand>#<shard> / D#<yyyy-mm-dd>`` — one day's counters (program timezone), summed
  over 8 shards so concurrent notifications do not all update one item.
- ``APPLIED#<message id> / APPLIED`` — a notification already counted, written in the same
  transaction as its counters (kept 14 days, longer than the queue's retention, by TTL).
"""

from __future__ import annotations

from pynamodb.attributes import TTLAttribute, UnicodeAttribute

from chalicelib.store.base import PunchcardModel, TableMeta


class AnalyticsTable(PunchcardModel):
    class Meta(TableMeta):
        logical_name = "analytics"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)
