"""Pure rules for member data: normalising contact points, referral codes, consents, views."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from chalicelib import errors
from chalicelib.timestamps import iso

_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_REFERRAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud, typed by hand
CONSENT_KINDS = ("email", "sms", "data_sharing")
PROFILE_FIELDS = ("birth_date", "gender", "city", "interests")


def normalise_email(email: str | None) -> str | None:
    if email is None:
        return None
    return email.strip().lower()


def normalise_phone(phone: str | None) -> str | None:
    """E.164 (``+31612345678``); spaces, dashes and brackets are dropped."""
    if phone is None:
        return None
    compact = re.sub(r"[\s\-().]", "", phone)
    if not _PHONE.match(compact):
        raise errors.ValidationFailed("phone must be in international format, e.g. +31612345678",
                                      details={"pointer": "/phone", "rule": "format"})
    return compact


def new_referral_code() -> str:
    return "".join(secrets.choice(_REFERRAL_ALPHABET) for _ in range(8))


def consents_update(current: dict[str, Any] | None, changes: dict[str, bool], now: datetime) -> dict[str, Any]:
    """Consents with a timestamp per change; an unchanged answer keeps its original time."""
    merged = dict(current or {})
    for kind, granted in changes.items():
        previous = merged.get(kind) or {}
        if previous.get("granted") is not granted:
            merged[kind] = {"granted": granted, "updated_at": iso(now)}
    return merged


def consents_view(consents: dict[str, Any] | None) -> dict[str, Any]:
    consents = consents or {}
    return {kind: {"granted": bool((consents.get(kind) or {}).get("granted", False)),
                   "updated_at": (consents.get(kind) or {}).get("updated_at")} for kind in CONSENT_KINDS}
