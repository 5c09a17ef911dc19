"""A member's wishlist: rewards they are saving for (``WISH#<member> / REWARD#<reward>`` items
in the rewards table; one Query lists them, one BatchGet fetches the rewards)."""

from __future__ import annotations

from datetime import datetime

from chalicelib import errors
from chalicelib.members import store as members
from chalicelib.rewards import service
from chalicelib.store.rewards import RewardItem, WishItem

MAX_ITEMS = 100


def items(member_id: str) -> list[tuple[WishItem, RewardItem | None]]:
    """The member's wishes, oldest first, each with its reward (None if it is gone)."""
    wishes = list(WishItem.query(f"WISH#{member_id}", WishItem.sk.startswith("REWARD#"), consistent_read=True))
    rewards = {}
    keys = [RewardItem.key_for(w.reward_id) for w in wishes]
    for start in range(0, len(keys), 100):
        rewards.update({r.reward_id: r for r in RewardItem.batch_get(keys[start:start + 100])})
    return [(w, rewards.get(w.reward_id)) for w in sorted(wishes, key=lambda w: w.added_at)]


def add(member_id: str, reward_id: str, now: datetime) -> WishItem:
    """Wish for a reward of a brand the member is enrolled with; again is a no-op."""
    try:
        reward = service.get(reward_id)
    except errors.NotFound:
        reward = None
    if reward is None or reward.status == "archived" or members.get_enrolment(member_id, reward.brand_id) is None:
        raise errors.NotFound("No such reward.", details={"reward_id": reward_id})
    try:
        return WishItem.get(*WishItem.key_for(member_id, reward_id), consistent_read=True)
    except WishItem.DoesNotExist:
        pass
    if WishItem.count(f"WISH#{member_id}", WishItem.sk.startswith("REWARD#"), limit=MAX_ITEMS) >= MAX_ITEMS:
        raise errors.Conflict(f"A wishlist holds at most {MAX_ITEMS} rewards.", code="wishlist_full",
                              details={"max_items": MAX_ITEMS})
    item = WishItem(*WishItem.key_for(member_id, reward_id), added_at=now)
    item.save()
    return item


def remove(member_id: str, reward_id: str) -> None:
    """Idempotent: removing what is not there is fine."""
    WishItem(*WishItem.key_for(member_id, reward_id)).delete()
