"""Redemption: points out for a reward, exactly once, and cancellation: points back.

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
import logging
from datetime import UTC, datetime, timedelta

from chalicelib import bootstrap, config, errors
from chalicelib.bus import catalogue, publisher
from chalicelib.ids import derived_id
from chalicelib.ledger import model
from chalicelib.members import store as members
from chalicelib.rewards import catalog, codes, store
from chalicelib.store.rewards import RedemptionItem, RewardItem
from chalicelib.tiers import service as tiers

log = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 24
SWEEP_AFTER = timedelta(minutes=15)


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


def find(redemption_id: str) -> RedemptionItem | None:
    return store.get_redemption(redemption_id)


def member_tier(member_id: str, at: datetime) -> str | None:
    return tiers.member_tier(member_id, at)[0]


def redeem(member_id: str, reward_id: str, key: str, now: datetime) -> RedemptionItem:
    """Redeem ``reward_id`` for the member; the same key again returns the same redemption."""
    redemption_id = derived_id("redemption", member_id, key)
    existing = find(redemption_id)
    if existing is not None:
        if existing.reward_id != reward_id:
            raise model.ExistsWithDifferentFields(details={"id": redemption_id})
        return resume(existing, now)
    reward = store.get_reward(reward_id)
    if reward is None or members.get_enrolment(member_id, reward.brand_id) is None:
        raise errors.NotFound("No such reward.", details={"reward_id": reward_id})
    if not catalog.open_at(reward, now):
        raise RewardInactive("This reward cannot be redeemed now.", details={"reward_id": reward_id})
    for_tiers = reward.definition.get("tiers")
    if for_tiers and member_tier(member_id, now) not in for_tiers:
        raise TierRequired("This reward is for members of other tiers.", details={"tiers": for_tiers})
    left = catalog.stock_left(reward)
    if left is not None and left <= 0:
        raise OutOfStock("This reward is out of stock.", details={"reward_id": reward_id})
    _check_limit(member_id, reward)  # the claim enforces both; these say why before any points are held
    item = store.put_redemption(redemption_id, now, member_id=member_id, brand_id=reward.brand_id,
                                reward_id=reward_id, reward_name=reward.definition["name"],
                                cost_points=int(reward.definition["cost_points"]), idempotency_key=key,
                                hold_id=f"{redemption_id}:hold")
    if item is None:
        return redeem(member_id, reward_id, key, now)  # a concurrent retry put it first
    return resume(item, now, reward=reward)


def resume(item: RedemptionItem, now: datetime, *, abandon: bool = False,
           reward: RewardItem | None = None) -> RedemptionItem:
    """Take the redemption as far as it goes. ``abandon`` (the sweeper): a pending one is failed
    and its hold voided rather than claimed. ``reward``: as the caller just read it (else the
    claim reads it)."""
    if item.status == "failed" and item.gsi4pk is not None:  # failed, hold not yet released (a crash)
        _release(item)
    if item.status in ("fulfilled", "failed", "cancelled"):
        return item
    held = None  # the hold this call made: the post need not read it again
    if item.status == "pending":
        if abandon:
            _fail(item, "abandoned", now)
            return resume(item, now) if item.status == "claimed" else item
        try:
            held = _ledger().hold(item.hold_id, item.member_id, int(item.cost_points), reference=item.redemption_id,
                                  metadata=(("brand_id", item.brand_id), ("reward_id", item.reward_id)))
        except model.InsufficientPoints as e:
            if not _fail(item, "insufficient_points", now, hold=False):
                return resume(item, now)  # a concurrent resume held the points and claimed it
            raise errors.Conflict("Not enough points for this reward.", code="insufficient_points",
                                  details={**e.details, "redemption_id": item.redemption_id}) from None
        try:
            reward, mine = _claim(item, now, reward)
        except (OutOfStock, LimitReached) as e:
            if not _fail(item, e.code, now):
                return resume(item, now)  # a concurrent resume of the same redemption claimed it
            raise
        if not mine:  # someone else moved it on: see where it stands
            store.refresh(item)
            if item.status == "failed":  # the sweeper gave up on it meanwhile: release what this call held
                _release(item)
                return item
    if item.status == "claimed":
        transfer = _ledger().post(f"{item.redemption_id}:post", item.hold_id, hold=held)
        # published before the record: a retry publishes it again
        _notify(catalogue.RedemptionFulfilled, item, reward or catalog.get(item.reward_id), now,
                transfer_id=transfer.id)
        store.mark_fulfilled(item, transfer.id, now)
    return item


def _notify(kind: type[catalogue.RedemptionEvent], item: RedemptionItem, reward: RewardItem, at: datetime,
            **fields) -> None:
    publisher.publish(kind(
        id=f"{kind.TYPE}:{item.redemption_id}", brand_id=item.brand_id, member_id=item.member_id,
        redemption_id=item.redemption_id, reward_id=item.reward_id, reward_name=item.reward_name,
        points=int(item.cost_points), fulfilment=reward.definition.get("fulfilment"),
        voucher_code=item.voucher_code, at=at, **fields))


def _signal_low_stock(before: RewardItem) -> None:
    """Tell the brand when what is left falls to the reward's low-stock mark, once per restock.

    ``before`` was read ahead of this claim, so it shows at least one unit more than is left
    now. The message goes before the flag, under an id all concurrent senders share (the
    consumers dedupe on it): a crash in between sends it again rather than never."""
    left = catalog.stock_left(before)
    if left is None or left - 1 > catalog.low_stock_at(before) or before.low_stock_signalled:
        return
    restock = f"{int(before.codes)}:{before.definition.get('stock')}"
    publisher.publish(catalogue.RewardLowStock(
        id=f"low_stock:{before.reward_id}:{restock}", brand_id=before.brand_id, reward_id=before.reward_id,
        reward_name=before.definition["name"], stock_left=max(0, left - 1), at=datetime.now(UTC)))
    store.set_low_stock_signalled(before, True)


def _void(item: RedemptionItem) -> None:
    with contextlib.suppress(model.PendingTransferNotFound):  # the hold was never made: nothing to release
        _ledger().void(f"{item.redemption_id}:void", item.hold_id)


def _fail(item: RedemptionItem, reason: str, now: datetime, *, hold: bool = True) -> bool:
    """Fail a pending redemption, then release its hold. In this order: once it is ``failed``
    no claim can follow (the claim is conditioned on ``pending``), and until its hold is
    released it stays in the sweeper's index, so a crash in between is finished by a retry or
    the sweeper (voiding is idempotent). The other order could leave a redemption ``pending``
    with its hold voided, which a retry would then claim and never post. False: it was claimed
    meanwhile (by a concurrent resume of the same redemption); nothing is released."""
    if not store.mark_failed(item, reason, now):
        return False
    _release(item, hold=hold)
    return True


def _release(item: RedemptionItem, *, hold: bool = True) -> None:
    if hold:
        _void(item)
    store.mark_released(item)


def _claim(item: RedemptionItem, now: datetime, reward: RewardItem | None = None) -> tuple[RewardItem, bool]:
    """Stock, a code and the per-member count, with the redemption marked claimed: one
    transaction, retried on another code when a concurrent redemption took the one picked.
    Returns the reward as read for the claim, and whether this call claimed it (the item then
    holds what was written) or a concurrent resume of the same redemption moved it on first.
    ``reward``: as just read by the caller (the transaction checks the stock itself)."""
    reward = reward or catalog.get(item.reward_id)
    fulfilment = reward.definition.get("fulfilment")
    for _ in range(CLAIM_ATTEMPTS):
        code = None
        if fulfilment == "voucher_pool":
            code = codes.pick(item.reward_id)
            if code is None:
                raise OutOfStock("This reward is out of stock.", details={"reward_id": item.reward_id})
        elif fulfilment == "generated_code":
            code = codes.generate()
        if store.claim(item, reward, code, now):
            _signal_low_stock(reward)
            return reward, True
        current = find(item.redemption_id)
        if current is not None and current.status != "pending":
            return reward, False  # claimed (or failed) by a concurrent resume of this same redemption
        reward = catalog.get(item.reward_id)
        left = catalog.stock_left(reward)
        if left is not None and left <= 0:
            raise OutOfStock("This reward is out of stock.", details={"reward_id": item.reward_id})
        _check_limit(item.member_id, reward)
        # else: another redemption took the code we picked (or the index lagged): pick again
    raise errors.ServiceUnavailable("Too many redemptions at once; try again.")


def _check_limit(member_id: str, reward: RewardItem) -> None:
    limit = reward.definition.get("per_member_limit")
    if limit is not None and store.redeemed_count(member_id, reward.reward_id) >= int(limit):
        raise LimitReached("You have redeemed this reward as often as it allows.",
                           details={"per_member_limit": int(limit)})


def cancel(brand_id: str, redemption_id: str, now: datetime) -> RedemptionItem:
    """A brand cancels a fulfilled redemption within the window: the points come back (a
    reversal), a unit of stock is returned (a handed-out voucher code is not reused)."""
    item = find(redemption_id)
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
    reward = catalog.get(item.reward_id)
    _notify(catalogue.RedemptionCancelled, item, reward, now, reversal_id=reversal.id)
    for attempt in range(3):
        if store.mark_cancelled(item, reward, reversal.id, now):
            break
        # Another cancellation of this redemption committed first (the reversal is one
        # transfer, so the points came back once): this one is refused, returns nothing twice.
        store.refresh(item)
        if item.status == "cancelled":
            raise errors.Conflict("Another cancellation of this redemption was committed at the same time; "
                                  "it is cancelled once.", code="cancellation_in_progress",
                                  details={"redemption_id": redemption_id, "status": item.status})
        if attempt == 2:  # transactions kept colliding on the reward's counters
            raise errors.ServiceUnavailable("The reward is busy; retry the cancellation.")
    store.refresh(item)
    store.refresh(reward)
    catalog.restocked(reward)
    return item


member_redemptions = store.member_redemptions
brand_redemptions = store.brand_redemptions


def sweep(now: datetime, older_than: timedelta = SWEEP_AFTER) -> int:
    """Settle redemptions a crash left half-way: pending ones fail (hold voided), claimed ones
    are posted. Returns how many were settled."""
    settled = 0
    for redemption_id in store.unsettled(now - older_than):
        item = find(redemption_id)
        if item is None:
            continue
        try:
            resume(item, now, abandon=True)
        except Exception:  # one that cannot be settled now must not stop the others
            log.exception("redemption %s could not be settled; the next sweep tries again", redemption_id)
            continue
        settled += 1
    return settled
