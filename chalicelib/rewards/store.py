"""Rewards' items in the ``rewards`` table (:mod:`chalicelib.store.rewards` declares them and
their keys): the only rewards code that talks to DynamoDB. Catalog, code pool, redemptions and
wishlists are plain Python over these functions.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import errors, ids
from chalicelib.store.base import connection
from chalicelib.store.rewards import (
    UNSETTLED_SHARDS,
    CodeItem,
    MemberCountItem,
    RedemptionItem,
    RewardItem,
    WishItem,
)

BATCH = 100  # keys in one BatchGetItem

# -- rewards ----------------------------------------------------------------------------------


def put_reward(brand_id: str, reward_id: str, definition: dict, now: datetime) -> RewardItem:
    item = RewardItem(*RewardItem.key_for(reward_id), brand_id=brand_id, definition=definition,
                      status=definition["status"], created_at=now, updated_at=now, gsi1pk=f"BRAND#{brand_id}",
                      gsi1sk=f"{now.isoformat()}#{reward_id}")
    item.save(condition=RewardItem.pk.does_not_exist())
    return item


def get_reward(reward_id: str) -> RewardItem | None:
    return RewardItem.find(*RewardItem.key_for(reward_id))


def rewards(reward_ids: Iterable[str]) -> dict[str, RewardItem]:
    """Many rewards by id (those that exist), one BatchGetItem per 100."""
    keys = [RewardItem.key_for(r) for r in dict.fromkeys(reward_ids)]
    found: dict[str, RewardItem] = {}
    for start in range(0, len(keys), BATCH):
        found.update({r.reward_id: r for r in RewardItem.batch_get(keys[start:start + BATCH])})
    return found


def brand_rewards(brand_id: str) -> list[RewardItem]:
    return list(RewardItem.by_owner.query(f"BRAND#{brand_id}"))


def set_definition(item: RewardItem, definition: dict, now: datetime) -> None:
    item.update(actions=[RewardItem.definition.set(definition), RewardItem.status.set(definition["status"]),
                         RewardItem.updated_at.set(now)])


def set_low_stock_signalled(item: RewardItem, signalled: bool) -> None:
    item.update(actions=[RewardItem.low_stock_signalled.set(True) if signalled
                         else RewardItem.low_stock_signalled.remove()])


def refresh(item: RewardItem | RedemptionItem) -> None:
    """The item read again, strongly consistent."""
    item.refresh(consistent_read=True)


# -- code pools -------------------------------------------------------------------------------

def lock_uploads(item: RewardItem, now: datetime, stale: timedelta) -> bool:
    """Take the reward's upload lock (or one older than ``stale``). False: another upload holds it."""
    try:
        item.update(actions=[RewardItem.uploading.set(now)],
                    condition=RewardItem.uploading.does_not_exist() | (RewardItem.uploading < now - stale))
    except UpdateError as e:
        if e.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def unlock_uploads(item: RewardItem) -> None:
    item.update(actions=[RewardItem.uploading.remove()])


def pooled(reward_id: str, codes: list[str]) -> set[str]:
    """Which of ``codes`` (at most 100) the reward's pool holds already."""
    keys = [CodeItem.key_for(reward_id, code) for code in codes]
    return {found.code for found in CodeItem.batch_get(keys, consistent_read=True)}


def pool(reward_id: str, codes: list[str], now: datetime) -> None:
    """Write new codes as available, then count them (a crash in between leaves codes
    uncounted, never counted and missing: stock shows less, never more, than the pool holds)."""
    with CodeItem.batch_write() as batch:
        for code in codes:
            batch.save(CodeItem(*CodeItem.key_for(reward_id, code), uploaded_at=now,
                                gsi3pk=f"AVAIL#{reward_id}", gsi3sk=secrets.token_hex(8)))
    RewardItem(*RewardItem.key_for(reward_id)).update(actions=[RewardItem.codes.add(len(codes))])


def available_codes(reward_id: str, limit: int) -> list[str]:
    """A few available codes from a random point of the (eventually consistent) index."""
    start = secrets.token_hex(8)
    page = list(CodeItem.available.query(f"AVAIL#{reward_id}", CodeItem.gsi3sk >= start, limit=limit))
    if len(page) < limit:
        page += list(CodeItem.available.query(f"AVAIL#{reward_id}", CodeItem.gsi3sk < start,
                                              limit=limit - len(page)))
    return [item.sk.removeprefix("CODE#") for item in page]


# -- redemptions ------------------------------------------------------------------------------

def get_redemption(redemption_id: str) -> RedemptionItem | None:
    return RedemptionItem.find(*RedemptionItem.key_for(redemption_id))


def put_redemption(redemption_id: str, now: datetime, **fields: Any) -> RedemptionItem | None:
    """A new ``pending`` redemption, listed for its member and brand and in the sweeper's
    ``unsettled`` index. None: one with that id exists (nothing written)."""
    at = f"{now.isoformat()}#{redemption_id}"
    item = RedemptionItem(*RedemptionItem.key_for(redemption_id), status="pending", created_at=now, updated_at=now,
                          gsi1pk=f"MEMBER#{fields['member_id']}", gsi1sk=at,
                          gsi2pk=f"BRAND#{fields['brand_id']}", gsi2sk=at,
                          gsi4pk=f"UNSETTLED#{ids.shard_of(redemption_id, UNSETTLED_SHARDS)}", gsi4sk=at, **fields)
    try:
        item.save(condition=RedemptionItem.pk.does_not_exist())
    except PutError as e:
        if e.cause_response_code != "ConditionalCheckFailedException":
            raise
        return None
    return item


def claim(item: RedemptionItem, reward: RewardItem, code: str | None, now: datetime) -> bool:
    """One transaction: a unit of stock (``claimed < stock``), the code (a pool's on condition
    it is still available; a generated one on condition it is new), a count against the
    per-member limit, and the redemption marked ``claimed`` (on condition it is ``pending``).
    False: refused, nothing written."""
    definition = reward.definition
    from_pool, limit, stock = (definition.get("fulfilment") == "voucher_pool", definition.get("per_member_limit"),
                               definition.get("stock"))
    try:
        with TransactWrite(connection=connection()) as tx:
            condition = RewardItem.claimed < int(stock) if stock is not None else RewardItem.pk.exists()
            tx.update(RewardItem(*RewardItem.key_for(item.reward_id)), actions=[RewardItem.claimed.add(1)],
                      condition=condition)
            if code and not from_pool:  # a generated code is recorded too, so no two are ever alike
                tx.save(CodeItem(*CodeItem.key_for(item.reward_id, code), status="claimed", uploaded_at=now,
                                 redemption_id=item.redemption_id), condition=CodeItem.pk.does_not_exist())
            if from_pool:
                tx.update(CodeItem(*CodeItem.key_for(item.reward_id, code)),
                          actions=[CodeItem.status.set("claimed"), CodeItem.redemption_id.set(item.redemption_id),
                                   CodeItem.gsi3pk.remove(), CodeItem.gsi3sk.remove()],
                          condition=CodeItem.status == "available")
            if limit is not None:
                tx.update(MemberCountItem(*MemberCountItem.key_for(item.member_id, item.reward_id)),
                          actions=[MemberCountItem.count.add(1)],
                          condition=MemberCountItem.count.does_not_exist() | (MemberCountItem.count < int(limit)))
            actions = [RedemptionItem.status.set("claimed"), RedemptionItem.updated_at.set(now)]
            actions += [RedemptionItem.voucher_code.set(code)] if code else []
            tx.update(item, actions=actions, condition=RedemptionItem.status == "pending")
    except TransactWriteError:
        return False
    item.status, item.updated_at = "claimed", now  # as written: no read back needed
    if code:
        item.voucher_code = code
    return True


def _settle(item: RedemptionItem, status: str, detail, now: datetime, allowed: tuple[str, ...], *,
            settled: bool = True) -> None:
    """``status`` (from one of ``allowed``) with its ``detail``, and out of the sweeper's index
    unless ``settled`` is False. The item then holds the whole item as written (UpdateItem
    returns it), with no read after."""
    actions = [RedemptionItem.status.set(status), detail, RedemptionItem.updated_at.set(now)]
    actions += [RedemptionItem.gsi4pk.remove(), RedemptionItem.gsi4sk.remove()] if settled else []
    item.update(actions=actions, condition=RedemptionItem.status.is_in(*allowed))


def mark_fulfilled(item: RedemptionItem, transfer_id: str, now: datetime) -> None:
    """Posted: ``fulfilled`` with its transfer."""
    _settle(item, "fulfilled", RedemptionItem.transfer_id.set(transfer_id), now, ("claimed", "fulfilled"))


def mark_failed(item: RedemptionItem, reason: str, now: datetime) -> bool:
    """``failed`` with its reason (on condition it is ``pending``, or failed already: no claim can follow), still
    in the sweeper's index until :func:`mark_released` says its hold is released. False: it
    was claimed meanwhile (nothing written; the item is read again)."""
    try:
        _settle(item, "failed", RedemptionItem.reason.set(reason), now, ("pending", "failed"), settled=False)
    except UpdateError as e:
        if e.cause_response_code != "ConditionalCheckFailedException":
            raise
        refresh(item)
        return False
    return True


def mark_released(item: RedemptionItem) -> None:
    """A failed redemption's hold is released: out of the sweeper's index."""
    item.update(actions=[RedemptionItem.gsi4pk.remove(), RedemptionItem.gsi4sk.remove()],
                condition=RedemptionItem.status == "failed")


def mark_cancelled(item: RedemptionItem, reward: RewardItem, reversal_id: str, now: datetime) -> bool:
    """The redemption ``cancelled`` (on condition it is ``fulfilled``), a unit of stock and the
    per-member count returned, in one transaction. False: refused, nothing written."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(item, actions=[RedemptionItem.status.set("cancelled"),
                                     RedemptionItem.reversal_id.set(reversal_id), RedemptionItem.updated_at.set(now)],
                      condition=RedemptionItem.status == "fulfilled")
            if reward.definition.get("fulfilment") != "voucher_pool":  # a handed-out code is not reused
                tx.update(RewardItem(*RewardItem.key_for(item.reward_id)), actions=[RewardItem.claimed.add(-1)])
            if reward.definition.get("per_member_limit") is not None:
                tx.update(MemberCountItem(*MemberCountItem.key_for(item.member_id, item.reward_id)),
                          actions=[MemberCountItem.count.add(-1)])
    except TransactWriteError:
        return False
    return True


def redeemed_count(member_id: str, reward_id: str) -> int:
    """How many times the member has the reward claimed (the per-member limit's count)."""
    item = MemberCountItem.find(*MemberCountItem.key_for(member_id, reward_id))
    return int(item.count) if item else 0


def _checked_cursor(start: dict | None, index_pk: str, owner: str) -> dict | None:
    """A cursor must be the last key of a page of this very owner's list."""
    if start is None:
        return None
    index_sk = index_pk.replace("pk", "sk")
    ok = set(start) == {"pk", "sk", index_pk, index_sk} and all(
        isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) and v["S"] for v in start.values())
    if not ok or start[index_pk]["S"] != owner or not start["pk"]["S"].startswith("REDEMPTION#"):
        raise errors.BadRequest("The cursor is not one this API issued.", code="invalid_cursor",
                                details={"parameter": "cursor"})
    return start


def member_redemptions(member_id: str, limit: int, start: dict | None = None):
    """A page of the member's redemptions, newest first, and the cursor to the next."""
    owner = f"MEMBER#{member_id}"
    page = RedemptionItem.by_owner.query(owner, scan_index_forward=False, limit=limit,
                                         last_evaluated_key=_checked_cursor(start, "gsi1pk", owner))
    return list(page), page.last_evaluated_key


def brand_redemptions(brand_id: str, limit: int, start: dict | None = None):
    """A page of the brand's redemptions, newest first, and the cursor to the next."""
    owner = f"BRAND#{brand_id}"
    page = RedemptionItem.by_brand.query(owner, scan_index_forward=False, limit=limit,
                                         last_evaluated_key=_checked_cursor(start, "gsi2pk", owner))
    return list(page), page.last_evaluated_key


def unsettled(before: datetime) -> list[str]:
    """Ids of redemptions created before ``before`` and not yet settled."""
    cutoff = before.isoformat()
    return [key.pk.removeprefix("REDEMPTION#") for shard in range(UNSETTLED_SHARDS)
            for key in RedemptionItem.unsettled.query(f"UNSETTLED#{shard}", RedemptionItem.gsi4sk < cutoff)]


# -- wishlists --------------------------------------------------------------------------------

def wishes(member_id: str) -> list[WishItem]:
    return list(WishItem.query(f"WISH#{member_id}", WishItem.sk.startswith("REWARD#"), consistent_read=True))


def get_wish(member_id: str, reward_id: str) -> WishItem | None:
    return WishItem.find(*WishItem.key_for(member_id, reward_id))


def count_wishes(member_id: str, up_to: int) -> int:
    return WishItem.count(f"WISH#{member_id}", WishItem.sk.startswith("REWARD#"), limit=up_to)


def put_wish(member_id: str, reward_id: str, now: datetime) -> WishItem:
    item = WishItem(*WishItem.key_for(member_id, reward_id), added_at=now)
    item.save()
    return item


def delete_wish(member_id: str, reward_id: str) -> None:
    WishItem(*WishItem.key_for(member_id, reward_id)).delete()
