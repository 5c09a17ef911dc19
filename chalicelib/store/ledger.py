"""The ``ledger`` table: member books, their lots and open holds, and every transfer.

Items:
- ``ACCT#<member> / BOOK`` — the member's counters and ``version``. Every write to the
  member's partition bumps ``version``; writes that read first are conditioned on it.
  ``lot_debt``/``lot_debt_at``: points a large debit took but whose lot items are still to be
  updated (see :mod:`chalicelib.ledger.dynamo`); absent almost always.
- ``ACCT#<member> / LOT#<lot id>`` — a lot bucket (remaining points, expiry, availability).
  GSI ``expiring`` (keys only; ``EXPIRY#<yyyymmdd>#<shard>``, ``<member>#<lot id>``) finds
  the lots due on a day without a scan; 16 shards per day keep its partitions cool. Keys
  only: updating a lot's ``remaining`` writes nothing to the index.
- ``ACCT#<member> / HOLD#<transfer id>`` — an open hold; posting or voiding deletes it.
- ``ACCT#<member> / EARNED#<yyyy-mm>`` — points earned in a UTC month, net of reversed
  earnings, moved in the grant's (or the reversal's) own transaction: tiers qualify on these.
- ``ACCT#<member> / BRAND#<brand>`` — what a brand issued to the member (``issued``: its
  grants and positive adjustments), took back (``taken_back``: its negative adjustments and
  reversals of its credits) and ``outstanding`` (issued - taken back), moved with ``ADD`` in
  the transfer's own transaction. A take-back is conditioned on ``outstanding >= points``, so
  a brand never takes back more than it issued, however many debits race.
- ``CLAIM#<key> / CLAIM`` — a decision made once and kept (e.g. which transfers a reversal
  by reference covers), so a redelivered request acts on the same set.
- ``GUARD#<key> / GUARD`` — a guard (:class:`chalicelib.guards.Guard`): ``version``
  and a JSON ``state`` written in the same transaction as a grant or a claim, on condition
  of the version read. Limits, budgets and event counters live here.
- ``TRANSFER#<id> / TRANSFER`` — the immutable transfer; its key is the idempotency key.
  ``reversed`` counts points reversed from it so far (the only attribute ever updated).
  GSI ``history`` (``MEMBER#<id>``, ``<timestamp>#<id>``) lists a member's transfers newest
  first; ``TRANSFER#<id> / CREDIT`` mirrors a member-to-member transfer into the receiver's
  history. System accounts have no history index entries: an index partition per system
  account would be a hot key. Their balances are derived from the transfers.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import KeysOnlyProjection

from chalicelib.ids import shard_of
from chalicelib.store.base import PunchcardModel, TableMeta, index

HistoryIndex = index("history", 1)
ExpiringIndex = index("expiring", 2, KeysOnlyProjection)


EXPIRY_SHARDS = 16


def expiry_shard(member_id: str) -> int:
    return shard_of(member_id, EXPIRY_SHARDS)


def expiry_key(member_id: str, lot_id: str, expires_at: datetime) -> tuple[str, str]:
    """The ``expiring`` index keys of a lot: its expiry day and shard, then member and lot."""
    return f"EXPIRY#{expires_at:%Y%m%d}#{expiry_shard(member_id)}", f"{member_id}#{lot_id}"


class LedgerTable(PunchcardModel):
    class Meta(TableMeta):
        logical_name = "ledger"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    history = HistoryIndex()
    expiring = ExpiringIndex()


def account_pk(member_id: str) -> str:
    return f"ACCT#{member_id}"


class BookItem(LedgerTable):
    credits_posted = NumberAttribute(default=0)
    debits_posted = NumberAttribute(default=0)
    debits_pending = NumberAttribute(default=0)
    lifetime_earned = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    lot_debt = NumberAttribute(null=True)
    lot_debt_at = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key_for(member_id: str) -> tuple[str, str]:
        return account_pk(member_id), "BOOK"


class LotItem(LedgerTable):
    amount = NumberAttribute(default=0)
    remaining = NumberAttribute(default=0)
    expires_at = UTCDateTimeAttribute(null=True)
    available_at = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key_for(member_id: str, lot_id: str) -> tuple[str, str]:
        return account_pk(member_id), f"LOT#{lot_id}"


class HoldItem(LedgerTable):
    amount = NumberAttribute()

    @staticmethod
    def key_for(member_id: str, hold_id: str) -> tuple[str, str]:
        return account_pk(member_id), f"HOLD#{hold_id}"


class EarnedItem(LedgerTable):
    """Points a member earned in a UTC month, net of reversed earnings (tiers qualify on these)."""

    points = NumberAttribute(default=0)

    @staticmethod
    def key_for(member_id: str, month: str) -> tuple[str, str]:
        return account_pk(member_id), f"EARNED#{month}"


class BrandShareItem(LedgerTable):
    """One brand's share of one member's points (see the module docstring)."""

    issued = NumberAttribute(default=0)
    taken_back = NumberAttribute(default=0)
    outstanding = NumberAttribute(default=0)

    @staticmethod
    def key_for(member_id: str, brand_id: str) -> tuple[str, str]:
        return account_pk(member_id), f"BRAND#{brand_id}"


class TransferItem(LedgerTable):
    debit = UnicodeAttribute()
    credit = UnicodeAttribute()
    amount = NumberAttribute()
    code = UnicodeAttribute()
    reference = UnicodeAttribute(default="")
    pending = BooleanAttribute(default=False)
    post_pending_id = UnicodeAttribute(null=True)
    void_pending_id = UnicodeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    expires_after = UnicodeAttribute(null=True)
    available_at = UTCDateTimeAttribute(null=True)
    available_after = UnicodeAttribute(null=True)
    metadata = JSONAttribute(null=True)  # [[key, value], ...] in the caller's order
    timestamp = UTCDateTimeAttribute()
    reversed = NumberAttribute(null=True)

    @staticmethod
    def key_for(transfer_id: str, side: str = "TRANSFER") -> tuple[str, str]:
        return f"TRANSFER#{transfer_id}", side


class ClaimItem(LedgerTable):
    value = JSONAttribute()

    @staticmethod
    def key_for(key: str) -> tuple[str, str]:
        return f"CLAIM#{key}", "CLAIM"


class GuardItem(LedgerTable):
    version = NumberAttribute()
    state = JSONAttribute()

    @staticmethod
    def key_for(key: str) -> tuple[str, str]:
        return f"GUARD#{key}", "GUARD"
