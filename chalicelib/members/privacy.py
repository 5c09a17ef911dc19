"""A member's right of access: everything Punchcard holds on them, one section per area, in the
API's shapes (erasure, its counterpart, is :func:`chalicelib.members.service.erase`). The
member's own export and the admin's read the same document."""

from __future__ import annotations

from typing import Any

from chalicelib import bootstrap
from chalicelib.api import views
from chalicelib.leaderboard import service as leaderboard
from chalicelib.members import service
from chalicelib.rewards import redemptions as rewards

PAGE = 200


def _ledger(member_id: str) -> dict[str, Any]:
    """The balance and every transfer of the member."""
    store, entries, start_key = bootstrap.ledger_store(), [], None
    while True:
        transfers, start_key = store.history(member_id, PAGE, start_key)
        entries += [views.ledger_entry(t, member_id) for t in transfers]
        if not start_key:
            break
    return {"balance": views.balance(member_id, store.book(member_id), bootstrap.now()), "transfers": entries}


def _redemptions(member_id: str) -> list[dict[str, Any]]:
    """Every redemption of the member, newest first."""
    items, start = [], None
    while True:
        batch, start = rewards.member_redemptions(member_id, 100, start)
        items += [views.redemption(i) for i in batch]
        if not start:
            return items


def export(member_id: str) -> dict[str, Any]:
    return {**service.export(member_id), "ledger": _ledger(member_id), "redemptions": _redemptions(member_id),
            "leaderboard": [{"display_name": leaderboard.get_name(member_id)}]}
