"""A member's wishlist: rewards they are saving for (``WISH#<member> / REWARD#<reward>`` items
in the rewards table; one Query lists them, one BatchGet fetches the rewards)."""

from __future__ import annotations

from datetime import datetime

from chalicelib import errors
from chalicelib.members import store as members
from chalicelib.rewards import store
from chalicelib.store.rewards import RewardItem, WishItem

MAX_ITEMS = 100


def items(member_id: str) -> list[tuple[WishItem, RewardItem | None]]:
    """The member's wishes, oldest first, each with its reward (None if it is gone)."""
    wishes = store.wishes(member_id)
    rewards = store.rewards(w.reward_id for w in wishes)
    return [(w, rewards.get(w.reward_id)) for w in sorted(wishes, key=lambda w: w.added_at)]


def add(member_id: str, reward_id: str, now: datetime) -> WishItem:
    """Wish for a reward of a brand the member is enrolled with; again is a no-op."""
    reward = store.get_reward(reward_id)
    if reward is None or reward.status == "archived" or members.get_enrolment(member_id, reward.brand_id) is None:
        raise errors.NotFound("No such reward.", details={"reward_id": reward_id})
    existing = store.get_wish(member_id, reward_id)
    if existing is not None:
        return existing
    if store.count_wishes(member_id, MAX_ITEMS) >= MAX_ITEMS:
        raise errors.Conflict(f"A wishlist holds at most {MAX_ITEMS} rewards.", code="wishlist_full",
                              details={"max_items": MAX_ITEMS})
    return store.put_wish(member_id, reward_id, now)


def remove(member_id: str, reward_id: str) -> None:
    """Idempotent: removing what is not there is fine."""
    store.delete_wish(member_id, reward_id)
