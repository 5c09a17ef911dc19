"""The rewards catalog, voucher code pools, and redemption: points out, exactly once.

Redemption is a small state machine, each step idempotent, so a retry (the same
Idempotency-Key) or the sweeper can always finish what a crash interrupted:

1. ``pending``: the redemption item is put (id derived from member + key; a retry finds it);
2. the ledger **hold** (id derived from the redemption; a replay moves nothing);
3. ``claimed``: one transaction takes a unit of stock (``claimed < stock``), a voucher code
   (on condition it is still available), and a count against the per-member limit, and marks
   the redemption claimed with its code — all or nothing;
4. ``fulfilled``: the hold is **posted**.

A claim that fails for good (out of stock, limit reached) voids the hold and ends ``failed``.
A redemption left ``pending`` (a crash before its claim) is failed and its hold voided by the
sweeper; one left ``claimed`` is posted. No path spends points twice or loses them.
"""

from __future__ import annotations

import contextlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import bootstrap, config, errors
from chalicelib.bus import catalogue, publisher
from chalicelib.ids import derived_id, new_id, shard_of
from chalicelib.ledger import model
from chalicelib.members import store as members
from chalicelib.store.base import connection
from chalicelib.store.rewards import (
    UNSETTLED_SHARDS,
    CodeItem,
    MemberCountItem,
    RedemptionItem,
    RewardItem,
)
from chalicelib.tiers import service as tiers

CLAIM_ATTEMPTS = 24
CODE_CHOICES = 8  # available codes read per attempt; one is picked at random
SWEEP_AFTER = timedelta(minutes=15)
UPLOAD_WORKERS = 16
UPLOAD_STALE = timedelta(minutes=5)  # an upload lock older than this (a crashed upload) is taken over
DEFAULT_LOW_STOCK_AT = 10  # units left at which the brand is told (reward.low_stock)


class OutOfStock(errors.Conflict):
    code = "out_of_stock"


class LimitReached(errors.Conflict):
    code = "limit_reached"


class TierRequired(errors.Conflict):
    code = "tier_required"


class RewardInactive(errors.Conflict):
    code = "reward_inactive"


def _ledger():
    return bootstrap.ledger()


# -- catalog --------------------------------------------------------------------------------

def _check(definition: dict) -> dict:
    starts, ends = definition.get("valid_from"), definition.get("valid_until")
    if starts and ends and _when(ends) <= _when(starts):
        raise errors.ValidationFailed("valid_until comes after valid_from.",
                                      details={"pointer": "/valid_until", "rule": "order"})
    return {"status": "active", "fulfilment": "none", **definition}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def create(brand_id: str, definition: dict, now: datetime) -> RewardItem:
    definition = _check(definition)
    reward_id = new_id()
    item = RewardItem(*RewardItem.key_for(reward_id), brand_id=brand_id, definition=definition,
                      status=definition["status"], created_at=now, updated_at=now, gsi1pk=f"BRAND#{brand_id}",
                      gsi1sk=f"{now.isoformat()}#{reward_id}")
    item.save(condition=RewardItem.pk.does_not_exist())
    return item


def get(reward_id: str, brand_id: str | None = None) -> RewardItem:
    try:
        item = RewardItem.get(*RewardItem.key_for(reward_id), consistent_read=True)
    except DoesNotExist:
        item = None
    if item is None or (brand_id is not None and item.brand_id != brand_id):
        raise errors.NotFound("No such reward.", details={"reward_id": reward_id})
    return item


def update(brand_id: str, reward_id: str, definition: dict, now: datetime) -> RewardItem:
    """Replace the definition (the units claimed so far are kept)."""
    item = get(reward_id, brand_id)
    definition = _check({"status": item.status, **definition})
    if definition.get("fulfilment") != item.definition.get("fulfilment") and item.claimed:
        raise errors.Conflict("A reward's fulfilment cannot change once it has been redeemed.",
                              code="fulfilment_locked", details={"pointer": "/fulfilment"})
    item.update(actions=[RewardItem.definition.set(definition), RewardItem.status.set(definition["status"]),
                         RewardItem.updated_at.set(now)])
    _restocked(item)
    return item


def archive(brand_id: str, reward_id: str, now: datetime) -> RewardItem:
    item = get(reward_id, brand_id)
    if item.status != "archived":
        item.update(actions=[RewardItem.status.set("archived"), RewardItem.updated_at.set(now),
                             RewardItem.definition.set({**item.definition, "status": "archived"})])
    return item


def brand_rewards(brand_id: str) -> list[RewardItem]:
    return list(RewardItem.by_owner.query(f"BRAND#{brand_id}"))


def stock_left(item: RewardItem) -> int | None:
    """Units still to hand out, or None for unlimited."""
    left = []
    if item.definition.get("stock") is not None:
        left.append(int(item.definition["stock"]) - int(item.claimed))
    if item.definition.get("fulfilment") == "voucher_pool":
        left.append(int(item.codes) - int(item.claimed))
    return max(0, min(left)) if left else None


def open_at(item: RewardItem, now: datetime) -> bool:
    definition = item.definition
    if item.status != "active":
        return False
    if definition.get("valid_from") and now < _when(definition["valid_from"]):
        return False
    return not (definition.get("valid_until") and now >= _when(definition["valid_until"]))


# -- voucher codes ----------------------------------------------------------------------------

def upload_codes(brand_id: str, reward_id: str, codes: list[str], now: datetime) -> dict[str, int]:
    """Add codes to the reward's pool; duplicates (in the upload or already pooled) are
    skipped. One upload per reward at a time (409 ``upload_in_progress``): with that, a code
    absent when checked cannot be claimed before it is written, so no code is ever rewritten
    and none handed out twice. Reads and writes go 16 at a time: 100,000 codes in seconds."""
    item = get(reward_id, brand_id)
    if item.definition.get("fulfilment") != "voucher_pool":
        raise errors.Conflict("This reward is not fulfilled from a code pool.", code="not_a_code_pool",
                              details={"reward_id": reward_id})
    _lock_uploads(item, now)
    try:
        unique = list(dict.fromkeys(codes))
        with ThreadPoolExecutor(UPLOAD_WORKERS) as pool:
            found = pool.map(lambda chunk: _pooled(reward_id, chunk), _chunks(unique, 100))
            existing = set().union(*found)
            new = [code for code in unique if code not in existing]
            list(pool.map(lambda chunk: _pool(item, chunk, now), _chunks(new, 500)))
    finally:
        item.update(actions=[RewardItem.uploading.remove()])
    _restocked(item)
    return {"received": len(codes), "added": len(new), "duplicates": len(codes) - len(new)}


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[start:start + size] for start in range(0, len(values), size)]


def _lock_uploads(item: RewardItem, now: datetime) -> None:
    try:
        item.update(actions=[RewardItem.uploading.set(now)],
                    condition=RewardItem.uploading.does_not_exist() | (RewardItem.uploading < now - UPLOAD_STALE))
    except UpdateError as e:
        if e.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise errors.Conflict("Codes are being uploaded to this reward; try again when that is done.",
                              code="upload_in_progress", details={"reward_id": item.reward_id}) from None


def _pooled(reward_id: str, codes: list[str]) -> set[str]:
    keys = [CodeItem.key_for(reward_id, code) for code in codes]
    return {found.code for found in CodeItem.batch_get(keys, consistent_read=True)}


def _pool(item: RewardItem, codes: list[str], now: datetime) -> None:
    """Write a chunk of new codes, then count them (a crash in between leaves codes uncounted,
    never counted and missing: stock shows less, never more, than the pool holds)."""
    with CodeItem.batch_write() as batch:
        for code in codes:
            batch.save(CodeItem(*CodeItem.key_for(item.reward_id, code), uploaded_at=now,
                                gsi3pk=f"AVAIL#{item.reward_id}", gsi3sk=secrets.token_hex(8)))
    RewardItem(*RewardItem.key_for(item.reward_id)).update(actions=[RewardItem.codes.add(len(codes))])


def _code_choices(reward_id: str) -> list[str]:
    """A few available codes from a random point of the (eventually consistent) index."""
    start = secrets.token_hex(8)
    page = list(CodeItem.available.query(f"AVAIL#{reward_id}", CodeItem.gsi3sk >= start, limit=CODE_CHOICES))
    if len(page) < CODE_CHOICES:
        page += list(CodeItem.available.query(f"AVAIL#{reward_id}", CodeItem.gsi3sk < start,
                                              limit=CODE_CHOICES - len(page)))
    return [item.sk.removeprefix("CODE#") for item in page]


# -- redemption -------------------------------------------------------------------------------

def find_redemption(redemption_id: str) -> RedemptionItem | None:
    try:
        return RedemptionItem.get(*RedemptionItem.key_for(redemption_id), consistent_read=True)
    except DoesNotExist:
        return None


def _unsettled_keys(redemption_id: str, now: datetime) -> dict[str, str]:
    shard = shard_of(redemption_id, UNSETTLED_SHARDS)
    return {"gsi4pk": f"UNSETTLED#{shard}", "gsi4sk": f"{now.isoformat()}#{redemption_id}"}


def redeem(member_id: str, reward_id: str, key: str, now: datetime) -> RedemptionItem:
    """Redeem ``reward_id`` for the member; the same key again returns the same redemption."""
    redemption_id = derived_id("redemption", member_id, key)
    existing = find_redemption(redemption_id)
    if existing is not None:
        if existing.reward_id != reward_id:
            raise model.ExistsWithDifferentFields(details={"id": redemption_id})
        return resume(existing, now)
    try:
        reward = get(reward_id)
    except errors.NotFound:
        raise errors.NotFound("No such reward.", details={"reward_id": reward_id}) from None
    if members.get_enrolment(member_id, reward.brand_id) is None:
        raise errors.NotFound("No such reward.", details={"reward_id": reward_id})
    if not open_at(reward, now):
        raise RewardInactive("This reward cannot be redeemed now.", details={"reward_id": reward_id})
    tiers = reward.definition.get("tiers")
    if tiers and member_tier(member_id) not in tiers:
        raise TierRequired("This reward is for members of other tiers.", details={"tiers": tiers})
    left = stock_left(reward)
    if left is not None and left <= 0:
        raise OutOfStock("This reward is out of stock.", details={"reward_id": reward_id})
    _check_limit(member_id, reward)  # the claim enforces both; these say why before any points are held
    item = RedemptionItem(*RedemptionItem.key_for(redemption_id), member_id=member_id, brand_id=reward.brand_id,
                          reward_id=reward_id, reward_name=reward.definition["name"],
                          cost_points=int(reward.definition["cost_points"]), idempotency_key=key, status="pending",
                          hold_id=f"{redemption_id}:hold", created_at=now, updated_at=now,
                          gsi1pk=f"MEMBER#{member_id}", gsi1sk=f"{now.isoformat()}#{redemption_id}",
                          gsi2pk=f"BRAND#{reward.brand_id}", gsi2sk=f"{now.isoformat()}#{redemption_id}",
                          **_unsettled_keys(redemption_id, now))
    try:
        item.save(condition=RedemptionItem.pk.does_not_exist())
    except PutError as e:
        if e.cause_response_code != "ConditionalCheckFailedException":
            raise
        return redeem(member_id, reward_id, key, now)  # a concurrent retry put it first
    return resume(item, now)


def member_tier(member_id: str) -> str | None:
    return tiers.member_tier(member_id)[0]


def resume(item: RedemptionItem, now: datetime, *, abandon: bool = False) -> RedemptionItem:
    """Take the redemption as far as it goes. ``abandon`` (the sweeper): a pending one is failed
    and its hold voided rather than claimed."""
    if item.status in ("fulfilled", "failed", "cancelled"):
        return item
    reward = None  # read by the claim, reused for the message (else read when resuming a claimed one)
    if item.status == "pending":
        if abandon:
            return _fail(item, "abandoned", now)
        try:
            _ledger().hold(item.hold_id, item.member_id, int(item.cost_points), reference=item.redemption_id,
                           metadata=(("brand_id", item.brand_id), ("reward_id", item.reward_id)))
        except model.InsufficientPoints as e:
            _fail(item, "insufficient_points", now, hold=False)
            raise errors.Conflict("Not enough points for this reward.", code="insufficient_points",
                                  details={**e.details, "redemption_id": item.redemption_id}) from None
        try:
            reward = _claim(item, now)
        except (OutOfStock, LimitReached) as e:
            _fail(item, e.code, now)
            raise
        item.refresh(consistent_read=True)
        if item.status == "failed":  # the sweeper gave up on it meanwhile: release what this call held
            _void(item)
            return item
    if item.status == "claimed":
        transfer = _ledger().post(f"{item.redemption_id}:post", item.hold_id)
        # published before the record: a retry publishes it again
        _notify(catalogue.RedemptionFulfilled, item, reward or get(item.reward_id), now, transfer_id=transfer.id)
        item.update(actions=[RedemptionItem.status.set("fulfilled"), RedemptionItem.transfer_id.set(transfer.id),
                             RedemptionItem.updated_at.set(now), RedemptionItem.gsi4pk.remove(),
                             RedemptionItem.gsi4sk.remove()],
                    condition=RedemptionItem.status.is_in("claimed", "fulfilled"))
        item.refresh(consistent_read=True)
    return item


def _notify(kind: type[catalogue.RedemptionEvent], item: RedemptionItem, reward: RewardItem, at: datetime,
            **fields) -> None:
    publisher.publish(kind(
        id=f"{kind.TYPE}:{item.redemption_id}", brand_id=item.brand_id, member_id=item.member_id,
        redemption_id=item.redemption_id, reward_id=item.reward_id, reward_name=item.reward_name,
        points=int(item.cost_points), fulfilment=reward.definition.get("fulfilment"),
        voucher_code=item.voucher_code, at=at, **fields))


def low_stock_at(item: RewardItem) -> int:
    return int(item.definition.get("low_stock_at", DEFAULT_LOW_STOCK_AT))


def _signal_low_stock(before: RewardItem) -> None:
    """Tell the brand when what is left falls to the reward's low-stock mark, once per restock.

    ``before`` was read ahead of this claim, so it shows at least one unit more than is left
    now. The message goes before the flag, under an id all concurrent senders share (the
    listeners dedupe on it): a crash in between sends it again rather than never."""
    left = stock_left(before)
    if left is None or left - 1 > low_stock_at(before) or before.low_stock_signalled:
        return
    restock = f"{int(before.codes)}:{before.definition.get('stock')}"
    publisher.publish(catalogue.RewardLowStock(
        id=f"low_stock:{before.reward_id}:{restock}", brand_id=before.brand_id, reward_id=before.reward_id,
        reward_name=before.definition["name"], stock_left=max(0, left - 1), at=datetime.now(UTC)))
    before.update(actions=[RewardItem.low_stock_signalled.set(True)])


def _restocked(item: RewardItem) -> None:
    if item.low_stock_signalled and (stock_left(item) or 0) > low_stock_at(item):
        item.update(actions=[RewardItem.low_stock_signalled.remove()])  # signal again when it runs low next


def _void(item: RedemptionItem) -> None:
    with contextlib.suppress(model.PendingTransferNotFound):  # the hold was never made: nothing to release
        _ledger().void(f"{item.redemption_id}:void", item.hold_id)


def _fail(item: RedemptionItem, reason: str, now: datetime, *, hold: bool = True) -> RedemptionItem:
    if hold:
        _void(item)
    item.update(actions=[RedemptionItem.status.set("failed"), RedemptionItem.reason.set(reason),
                         RedemptionItem.updated_at.set(now), RedemptionItem.gsi4pk.remove(),
                         RedemptionItem.gsi4sk.remove()],
                condition=RedemptionItem.status.is_in("pending", "failed"))
    item.refresh(consistent_read=True)
    return item


def _claim(item: RedemptionItem, now: datetime) -> RewardItem:
    """Stock, a code and the per-member count, with the redemption marked claimed: one
    transaction, retried on another code when a concurrent redemption took the one picked.
    Returns the reward as read for the claim."""
    reward = get(item.reward_id)
    definition = reward.definition
    pool = definition.get("fulfilment") == "voucher_pool"
    limit = definition.get("per_member_limit")
    for _ in range(CLAIM_ATTEMPTS):
        code = None
        if pool:
            choices = _code_choices(item.reward_id)
            if not choices:
                raise OutOfStock("This reward is out of stock.", details={"reward_id": item.reward_id})
            code = secrets.choice(choices)
        elif definition.get("fulfilment") == "generated_code":
            code = "-".join(secrets.token_hex(2).upper() for _ in range(4))  # 64 random bits
        try:
            with TransactWrite(connection=connection()) as tx:
                stock = definition.get("stock")
                condition = RewardItem.claimed < int(stock) if stock is not None else RewardItem.pk.exists()
                tx.update(RewardItem(*RewardItem.key_for(item.reward_id)), actions=[RewardItem.claimed.add(1)],
                          condition=condition)
                if code and not pool:  # a generated code is recorded too, so no two are ever alike
                    tx.save(CodeItem(*CodeItem.key_for(item.reward_id, code), status="claimed", uploaded_at=now,
                                     redemption_id=item.redemption_id), condition=CodeItem.pk.does_not_exist())
                if pool:
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
            _signal_low_stock(reward)
            return reward
        except TransactWriteError:
            pass
        current = find_redemption(item.redemption_id)
        if current is not None and current.status != "pending":
            return reward  # claimed by a concurrent resume of this same redemption
        reward = get(item.reward_id)
        left = stock_left(reward)
        if left is not None and left <= 0:
            raise OutOfStock("This reward is out of stock.", details={"reward_id": item.reward_id})
        _check_limit(item.member_id, reward)
        # else: another redemption took the code we picked (or the index lagged): pick again
    raise errors.ServiceUnavailable("Too many redemptions at once; try again.")


def _check_limit(member_id: str, reward: RewardItem) -> None:
    limit = reward.definition.get("per_member_limit")
    if limit is None:
        return
    try:
        count = MemberCountItem.get(*MemberCountItem.key_for(member_id, reward.reward_id), consistent_read=True).count
    except DoesNotExist:
        count = 0
    if count >= int(limit):
        raise LimitReached("You have redeemed this reward as often as it allows.",
                           details={"per_member_limit": int(limit)})


def _mark_cancelled(item: RedemptionItem, reward: RewardItem, reversal_id: str, now: datetime) -> None:
    """The redemption cancelled and its stock and per-member count returned, in one transaction."""
    with TransactWrite(connection=connection()) as tx:
        tx.update(item, actions=[RedemptionItem.status.set("cancelled"), RedemptionItem.reversal_id.set(reversal_id),
                                 RedemptionItem.updated_at.set(now)],
                  condition=RedemptionItem.status == "fulfilled")
        if reward.definition.get("fulfilment") != "voucher_pool":  # a handed-out code is not reused
            tx.update(RewardItem(*RewardItem.key_for(item.reward_id)), actions=[RewardItem.claimed.add(-1)])
        if reward.definition.get("per_member_limit") is not None:
            tx.update(MemberCountItem(*MemberCountItem.key_for(item.member_id, item.reward_id)),
                      actions=[MemberCountItem.count.add(-1)])


def cancel(brand_id: str, redemption_id: str, now: datetime) -> RedemptionItem:
    """A brand cancels a fulfilled redemption within the window: the points come back (a
    reversal), a unit of stock is returned (a handed-out voucher code is not reused)."""
    item = find_redemption(redemption_id)
    if item is None or item.brand_id != brand_id:
        raise errors.NotFound("No such redemption.", details={"redemption_id": redemption_id})
    if item.status == "cancelled":
        return item
    if item.status != "fulfilled":
        raise errors.Conflict("Only a fulfilled redemption can be cancelled.", code="not_cancellable",
                              details={"status": item.status})
    if now - item.created_at > timedelta(days=config.redemption_cancel_days()):
        raise errors.Conflict("The cancellation window has closed.", code="cancellation_window_closed",
                              details={"days": config.redemption_cancel_days()})
    reversal = _ledger().reverse(f"{redemption_id}:cancel", item.transfer_id,
                                 expires_after=config.points_expire_after())
    reward = get(item.reward_id)
    _notify(catalogue.RedemptionCancelled, item, reward, now, reversal_id=reversal.id)
    for attempt in range(3):
        try:
            _mark_cancelled(item, reward, reversal.id, now)
            break
        except TransactWriteError as e:
            # Another cancellation of this redemption committed first (the reversal is one
            # transfer, so the points came back once): this one is refused, returns nothing twice.
            item.refresh(consistent_read=True)
            if item.status == "cancelled":
                raise errors.Conflict("Another cancellation of this redemption was committed at the same time; "
                                      "it is cancelled once.", code="cancellation_in_progress",
                                      details={"redemption_id": redemption_id, "status": item.status}) from e
            if attempt == 2:  # transactions kept colliding on the reward's counters
                raise errors.ServiceUnavailable("The reward is busy; retry the cancellation.") from e
    item.refresh(consistent_read=True)
    reward.refresh(consistent_read=True)
    _restocked(reward)
    return item


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
    owner = f"MEMBER#{member_id}"
    page = RedemptionItem.by_owner.query(owner, scan_index_forward=False, limit=limit,
                                         last_evaluated_key=_checked_cursor(start, "gsi1pk", owner))
    return list(page), page.last_evaluated_key


def brand_redemptions(brand_id: str, limit: int, start: dict | None = None):
    owner = f"BRAND#{brand_id}"
    page = RedemptionItem.by_brand.query(owner, scan_index_forward=False, limit=limit,
                                         last_evaluated_key=_checked_cursor(start, "gsi2pk", owner))
    return list(page), page.last_evaluated_key


def sweep(now: datetime, older_than: timedelta = SWEEP_AFTER) -> int:
    """Settle redemptions a crash left half-way: pending ones fail (hold voided), claimed ones
    are posted. Returns how many were settled."""
    cutoff, settled = (now - older_than).isoformat(), 0
    for shard in range(UNSETTLED_SHARDS):
        for key in RedemptionItem.unsettled.query(f"UNSETTLED#{shard}", RedemptionItem.gsi4sk < cutoff):
            item = find_redemption(key.pk.removeprefix("REDEMPTION#"))
            if item is not None:
                resume(item, now, abandon=True)
                settled += 1
    return settled

