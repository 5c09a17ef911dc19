"""The rewards catalog: each brand's rewards, their validity, stock and low-stock mark.

A reward is created ``active`` with fulfilment ``none`` unless it says otherwise; replacing
its definition keeps the units claimed so far; archiving hides it from members for good.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib import errors
from chalicelib.ids import new_id
from chalicelib.rewards import store
from chalicelib.store.rewards import RewardItem

DEFAULT_LOW_STOCK_AT = 10  # units left at which the brand is told (reward.low_stock)


def _check(definition: dict) -> dict:
    starts, ends = definition.get("valid_from"), definition.get("valid_until")
    if starts and ends and _when(ends) <= _when(starts):
        raise errors.ValidationFailed("valid_until comes after valid_from.",
                                      details={"pointer": "/valid_until", "rule": "order"})
    return {"status": "active", "fulfilment": "none", **definition}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def create(brand_id: str, definition: dict, now: datetime) -> RewardItem:
    return store.put_reward(brand_id, new_id(), _check(definition), now)


def get(reward_id: str, brand_id: str | None = None) -> RewardItem:
    """The reward (of ``brand_id`` when given), else 404."""
    item = store.get_reward(reward_id)
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
    store.set_definition(item, definition, now)
    restocked(item)
    return item


def archive(brand_id: str, reward_id: str, now: datetime) -> RewardItem:
    item = get(reward_id, brand_id)
    if item.status != "archived":
        store.set_definition(item, {**item.definition, "status": "archived"}, now)
    return item


def brand_rewards(brand_id: str) -> list[RewardItem]:
    return store.brand_rewards(brand_id)


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


def low_stock_at(item: RewardItem) -> int:
    return int(item.definition.get("low_stock_at", DEFAULT_LOW_STOCK_AT))


def restocked(item: RewardItem) -> None:
    """Stock rose above the low-stock mark: the brand is told again when it runs low next."""
    if item.low_stock_signalled and (stock_left(item) or 0) > low_stock_at(item):
        store.set_low_stock_signalled(item, False)
