"""Member sign-up, confirmation and login: the member record and its Cognito login together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import errors
from chalicelib.identity import cognito
from chalicelib.members import profile as rules
from chalicelib.members import service, store


def sign_up(email: str, password: str, name: str | None, now: datetime) -> tuple[str, bool]:
    """(member id, confirmation required). An e-mail a brand already enrolled is claimed."""
    email = rules.normalise_email(email)
    member_id = store.find("EMAIL", email)
    if member_id is None:
        profile, _, _ = service.create_or_enrol({"email": email, "name": name}, None, "signup", now)
        member_id = profile.member_id
    else:
        existing = store.get_profile(member_id)
        if existing is None or existing.status != "active":
            raise errors.Conflict("This e-mail cannot sign up right now.", code="member_unavailable")
        if existing.has_login and cognito.login_status(member_id) == "CONFIRMED":
            raise errors.Conflict("This e-mail already has a login.", code="email_taken")
    needs_confirmation = cognito.sign_up(member_id, email, password, name)
    store.set_has_login(member_id, True)
    return member_id, needs_confirmation


def _member_for_login(email: str) -> str:
    member_id = store.find("EMAIL", rules.normalise_email(email))
    if member_id is None:
        raise errors.Unauthorized("Wrong e-mail or password.", code="invalid_credentials")
    return member_id


def confirm(email: str, code: str) -> None:
    cognito.confirm(_member_for_login(email), code)


def login(email: str, password: str) -> dict[str, Any]:
    return cognito.login(_member_for_login(email), password)
