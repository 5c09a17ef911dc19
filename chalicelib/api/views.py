"""How members look in API replies (one shape for brands, admins and the member)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import bootstrap
from chalicelib.ledger import model as ledger
from chalicelib.members import profile as rules
from chalicelib.store.members import EnrolmentItem, ProfileItem
from chalicelib.timestamps import iso


def _plain(value: Any) -> Any:
    return value.as_dict() if hasattr(value, "as_dict") else value


def member(profile: ProfileItem, enrolment: EnrolmentItem | None = None) -> dict[str, Any]:
    view = {
        "id": profile.member_id,
        "status": profile.status,
        "email": profile.email,
        "phone": profile.phone,
        "name": profile.name,
        "profile": {"birth_date": profile.birth_date, "gender": profile.gender, "city": profile.city,
                    "interests": list(profile.interests or [])},
        "consents": rules.consents_view(_plain(profile.consents)),
        "referral_code": profile.referral_code,
        "created_at": iso(profile.created_at),
        "updated_at": iso(profile.updated_at),
    }
    if enrolment is not None:
        view["enrolment"] = {"brand_id": enrolment.brand_id, "external_id": enrolment.external_id,
                             "custom_fields": _plain(enrolment.custom_fields) or {},
                             "enrolled_at": iso(enrolment.enrolled_at), "source": enrolment.source}
    return view


def invitation(enrolment: EnrolmentItem) -> dict[str, Any]:
    """A pending invitation as the inviting brand sees it: what it sent, nothing of the member."""
    return {"status": "invited", "brand_id": enrolment.brand_id, "external_id": enrolment.external_id,
            "invited_at": iso(enrolment.invited_at)}


def enrolment(enrolment: EnrolmentItem, brand_name: str | None = None) -> dict[str, Any]:
    """An enrolment or invitation as the member sees it."""
    view = {"brand_id": enrolment.brand_id, "status": "invited" if enrolment.invited else "enrolled",
            "source": enrolment.source, "enrolled_at": None if enrolment.invited else iso(enrolment.enrolled_at)}
    if enrolment.invited:
        view["invited_at"] = iso(enrolment.invited_at)
    if brand_name is not None:
        view["brand_name"] = brand_name
    return view


def balance(member_id: str, book: ledger.MemberBook, now: datetime) -> dict[str, Any]:
    return {**bootstrap.tiers().progress(member_id, now),
        "member_id": member_id,
        "available": book.available(now),
        "pending": book.pending_credit(now),
        "held": book.debits_pending,
        "posted": book.posted,
        "lifetime_earned": book.lifetime_earned,
        "expiring": [{"points": points, "expires_at": iso(at)} for at, points in book.expiring()],
        "as_of": iso(now),
    }


def ledger_entry(transfer: ledger.Transfer, member_id: str) -> dict[str, Any]:
    """One transfer as the member's history shows it. ``amount`` is signed from the member's
    side (+ in, - out); ``points`` is its effect on the posted balance (0 for holds and voids).
    (A brand's history holds only its own entries: the store filters, nothing is masked.)"""
    credit = transfer.credit == ledger.member_account(member_id)
    phase = "hold" if transfer.pending else "post" if transfer.post_pending_id else \
        "void" if transfer.void_pending_id else None
    points = 0 if phase in ("hold", "void") else transfer.amount if credit else -transfer.amount
    lot = None
    if credit and transfer.amount and transfer.timestamp:
        expires_at, available_at = transfer.lot_dates(transfer.timestamp)
        lot = {"expires_at": iso(expires_at), "available_at": iso(available_at)}
    return {
        "id": transfer.id,
        "code": transfer.code,
        "phase": phase,
        "pending_id": transfer.post_pending_id or transfer.void_pending_id,
        "amount": transfer.amount if credit else -transfer.amount,
        "direction": "credit" if credit else "debit",
        "points": points,
        "brand_id": ledger.brand_of(transfer),
        "reference": transfer.reference or None,
        "metadata": dict(transfer.metadata),
        "lot": lot,
        "created_at": iso(transfer.timestamp),
    }


def activity(head) -> dict[str, Any]:
    """An activity as its brand sees it: the current version's JSON and its bookkeeping."""
    return {**head.definition, "id": head.activity_id, "brand_id": head.pk.removeprefix("BRAND#"),
            "version": int(head.version), "status": head.status, "channel": head.channel,
            "created_at": iso(head.created_at), "updated_at": iso(head.updated_at)}


def activity_for_members(head) -> dict[str, Any]:
    """What a member sees of an active activity: what it pays and its terms, not its logic."""
    definition = head.definition
    return {"id": head.activity_id, "brand_id": head.pk.removeprefix("BRAND#"), "name": head.name,
            "description": definition.get("description"), "channel": head.channel,
            "trigger": definition["trigger"]["event"], "reward": definition["reward"],
            "limits": definition.get("limits", []), "schedule": definition.get("schedule"),
            "pending_for": definition.get("pending_for"), "expires_after": definition.get("expires_after")}


def simulation(result, at: datetime) -> dict[str, Any]:
    return {
        "evaluated_at": iso(at),
        "points": sum(o.points for o in result.outcomes),
        "outcomes": [{"activity_id": o.activity_id, "version": o.version, "points": o.points,
                      "pending_for": o.pending_for, "expires_after": o.expires_after,
                      "limits": o.activity.source.get("limits", [])} for o in result.outcomes],
        "activities": [{"activity_id": e.activity_id, "name": e.name, "matched": e.matched, "reason": e.reason,
                        "points": e.points} for e in result.explanations],
    }


def template(t) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "description": t.description, "channel": t.channel,
            "parameters": [{"name": p.name, "type": p.kind, "default": p.default, "description": p.description,
                            "minimum": p.minimum, "choices": list(p.choices) if p.choices else None}
                           for p in t.parameters],
            "activities": t.render()}


def redemption(item) -> dict:
    view = {"id": item.redemption_id, "status": item.status, "reward_id": item.reward_id,
            "reward_name": item.reward_name, "member_id": item.member_id, "brand_id": item.brand_id,
            "cost_points": int(item.cost_points), "created_at": iso(item.created_at),
            "updated_at": iso(item.updated_at)}
    for key in ("voucher_code", "reason", "transfer_id"):
        if getattr(item, key):
            view[key] = getattr(item, key)
    return view
