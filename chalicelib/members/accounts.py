"""Member sign-up, confirmation and login: the member record and its Cognito login together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import config, errors
from chalicelib.identity import cognito
from chalicelib.ids import new_id
from chalicelib.members import profile as rules
from chalicelib.members import service, store


def sign_up(email: str, password: str, name: str | None, now: datetime) -> tuple[str, bool]:
    """(member id, confirmation required). An e-mail a brand already enrolled is claimed.

    An e-mail that already has a login answers like a new sign-up (an id that names no one,
    the tenant's usual ``confirmation_required``) and changes nothing, so sign-up reveals no
    more than login does about who is a member (docs/api.md, "Sign-up and login")."""
    email = rules.normalise_email(email)
    member_id = store.find("EMAIL", email)
    if member_id is None:
        profile, _, _ = service.create_or_enrol({"email": email, "name": name}, None, "signup", now)
        member_id = profile.member_id
    else:
        existing = store.get_profile(member_id)
        if existing is None or existing.status != "active":
            raise errors.Conflict("This e-mail cannot sign up right now.", code="member_unavailable")
        if cognito.login_status(member_id) == "CONFIRMED":
            return new_id(), config.require_email_verification()
    needs_confirmation = cognito.sign_up(member_id, email, password, name)
    store.set_has_login(member_id, True)
    return member_id, needs_confirmation


def _member_for_login(email: str) -> str:
    member_id = store.find("EMAIL", rules.normalise_email(email))
    if member_id is None:
        raise errors.Unauthorized("Wrong e-mail or password.", code="invalid_credentials")
    return member_id


_WRONG_CODE = "The e-mail or the confirmation code is wrong, or the code has expired."


def confirm(email: str, code: str) -> None:
    """A wrong or expired code, an unknown e-mail and an e-mail already confirmed all answer
    401 ``invalid_credentials``, as login does: confirming reveals nothing about who is a member."""
    member_id = store.find("EMAIL", rules.normalise_email(email))
    if member_id is None or cognito.login_status(member_id) != "UNCONFIRMED":
        raise errors.Unauthorized(_WRONG_CODE, code="invalid_credentials")  # nothing to confirm
    try:
        cognito.confirm(member_id, code)
    except (errors.Unauthorized, errors.ValidationFailed) as e:
        if e.code not in ("invalid_credentials", "invalid_code", "expired_code"):
            raise
        raise errors.Unauthorized(_WRONG_CODE, code="invalid_credentials") from e


def login(email: str, password: str) -> dict[str, Any]:
    return cognito.login(_member_for_login(email), password)
