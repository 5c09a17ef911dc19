"""The ``rewards`` table: each brand's catalog, voucher code pools and members' redemptions.

Items:
- ``REWARD#<id> / REWARD`` — a reward: its definition as accepted, ``status``, and ``claimed``
  (units handed out; a redemption's claim adds 1 on condition ``claimed < stock``). GSI
  ``by_owner`` (``BRAND#<brand>``, ``<created_at>#<id>``) lists a brand's catalog.
- ``POOL#<reward> / CODE#<code>`` — a voucher code (a generated code is written claimed, on
  condition it does not exist, so generated codes are unique too). While available it carries the sparse
  GSI ``available`` keys (``AVAIL#<reward>``, a random token): a redemption picks among a few
  codes from a random point of the index and claims one on condition it is still available,
  so concurrent redemptions rarely collide and a code is never handed out twice. Claiming
  removes the index keys and records the redemption.
- ``REDEMPTION#<id> / REDEMPTION`` — a redemption, written first (``pending``), then
  ``claimed`` (stock, code and per-member count taken in one transaction), then
  ``fulfilled`` (the ledger hold posted), or ``failed`` / ``cancelled`` (the hold voided, or
  the points reversed). GSI ``by_owner`` lists a member's (``MEMBER#<id>``) redemptions,
  ``by_brand`` (``BRAND#<brand>``) the brand's, newest first.
  While not settled it carries the sparse ``unsettled`` keys the sweeper reads.
- ``COUNT#<member> / REWARD#<reward>`` — how many times the member redeemed the reward (the
  per-member limit), moved in the claim's transaction.
- ``WISH#<member> / REWARD#<reward>`` — a reward on the member's wishlist.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import KeysOnlyProjection

from chalicelib.store.base import PunchcardModel, TableMeta, index

UNSETTLED_SHARDS = 4


OwnerIndex = index("by_owner", 1)
BrandIndex = index("by_brand", 2)
AvailableIndex = index("available", 3, KeysOnlyProjection)
UnsettledIndex = index("unsettled", 4, KeysOnlyProjection)


class RewardsTable(PunchcardModel):
    class Meta(TableMeta):
        logical_name = "rewards"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_owner = OwnerIndex()
    by_brand = BrandIndex()
    available = AvailableIndex()
    unsettled = UnsettledIndex()


class RewardItem(RewardsTable):
    brand_id = UnicodeAttribute()
    definition = JSONAttribute()
    status = UnicodeAttribute()
    claimed = NumberAttribute(default=0)
    codes = NumberAttribute(default=0)  # codes ever uploaded to its pool
    low_stock_signalled = BooleanAttribute(null=True)  # reward.low_stock sent; cleared by a restock
    uploading = UTCDateTimeAttribute(null=True)  # a code upload holds the reward's pool (one at a time)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(reward_id: str) -> tuple[str, str]:
        return f"REWARD#{reward_id}", "REWARD"

    @property
    def reward_id(self) -> str:
        return self.pk.removeprefix("REWARD#")


class CodeItem(RewardsTable):
    status = UnicodeAttribute(default="available")  # available | claimed
    redemption_id = UnicodeAttribute(null=True)
    uploaded_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(reward_id: str, code: str) -> tuple[str, str]:
        return f"POOL#{reward_id}", f"CODE#{code}"

    @property
    def code(self) -> str:
        return self.sk.removeprefix("CODE#")


class RedemptionItem(RewardsTable):
    member_id = UnicodeAttribute()
    brand_id = UnicodeAttribute()
    reward_id = UnicodeAttribute()
    reward_name = UnicodeAttribute()
    cost_points = NumberAttribute()
    idempotency_key = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | claimed | fulfilled | failed | cancelled
    reason = UnicodeAttribute(null=True)
    voucher_code = UnicodeAttribute(null=True)
    hold_id = UnicodeAttribute()
    transfer_id = UnicodeAttribute(null=True)  # the posted redemption
    reversal_id = UnicodeAttribute(null=True)  # a cancellation's refund
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(redemption_id: str) -> tuple[str, str]:
        return f"REDEMPTION#{redemption_id}", "REDEMPTION"

    @property
    def redemption_id(self) -> str:
        return self.pk.removeprefix("REDEMPTION#")


class MemberCountItem(RewardsTable):
    count = NumberAttribute(default=0)

    @staticmethod
    def key_for(member_id: str, reward_id: str) -> tuple[str, str]:
        return f"COUNT#{member_id}", f"REWARD#{reward_id}"


class WishItem(RewardsTable):
    added_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(member_id: str, reward_id: str) -> tuple[str, str]:
        return f"WISH#{member_id}", f"REWARD#{reward_id}"

    @property
    def reward_id(self) -> str:
        return self.sk.removeprefix("REWARD#")
