"""The ``events`` table: every event a brand sent, keyed by an id derived from its
idempotency key, with its status and what it earned.

Items:
- ``EVENT#<id> / EVENT`` — the event as accepted (member, type, time, attributes), the hash of
  the request (a key reused with other fields is refused), ``status`` (accepted → processed |
  rejected), ``outcomes`` and the ``reversals`` made of it. The id is derived from
  (brand, idempotency key), so a retried POST lands on the same item: one conditional put,
  no lookup item. ``failed``: its last retry failed on a transient error (it waits in the
  dead-letter queue; a redrive processes it again); ``reason`` and ``details`` say why.
- GSI ``unprocessed`` (sparse: only items still ``accepted`` carry ``gsi1pk``):
  ``PENDING#<shard>`` / ``<accepted_at>#<id>``. The sweeper finds events that were accepted
  but never processed (an SQS send that failed after the put, a message lost to the DLQ)
  without a scan; processing removes the attributes and so the index entry. Failed events
  move to ``FAILED#<shard>`` (listed and counted there, never swept: the DLQ holds them).
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, UTCDateTimeAttribute

from chalicelib.store.base import PunchcardModel, TableMeta, index

PENDING_SHARDS = 8

UnprocessedIndex = index("unprocessed", 1)


class EventsTable(PunchcardModel):
    class Meta(TableMeta):
        logical_name = "events"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    unprocessed = UnprocessedIndex()


class EventItem(EventsTable):
    brand_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    type = UnicodeAttribute()
    channel = UnicodeAttribute(null=True)
    occurred_at = UTCDateTimeAttribute()
    attributes = JSONAttribute(default=dict)
    idempotency_key = UnicodeAttribute()
    request_hash = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    details = JSONAttribute(null=True)  # of a rejection or a failure: code, message, attempts
    outcomes = JSONAttribute(null=True)
    reversals = JSONAttribute(null=True)
    accepted_at = UTCDateTimeAttribute()
    processed_at = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key_for(event_id: str) -> tuple[str, str]:
        return f"EVENT#{event_id}", "EVENT"

    @property
    def event_id(self) -> str:
        return self.pk.removeprefix("EVENT#")
