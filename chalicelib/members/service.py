"""Creating and enrolling members, self-service, and privacy (export, erasure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import bootstrap, errors
from chalicelib.brands import store as brands
from chalicelib.identity import cognito
from chalicelib.ids import new_id
from chalicelib.members import profile as rules
from chalicelib.members import store
from chalicelib.store.members import EnrolmentItem, ProfileItem

_CREATE_ATTEMPTS = 4


def _consent_changes(consents: dict[str, bool] | None) -> dict[str, bool]:
    return {k: v for k, v in (consents or {}).items() if k in rules.CONSENT_KINDS}


def existing_member(email: str | None, phone: str | None) -> str | None:
    """The member an e-mail or phone already names; 409 if they name two different members."""
    by_email, by_phone = store.find("EMAIL", email), store.find("PHONE", phone)
    if by_email and by_phone and by_email != by_phone:
        raise errors.Conflict("The e-mail and the phone belong to two different members.",
                              code="identity_conflict")
    return by_email or by_phone


def _new_profile(member_id: str, data: dict[str, Any], source: str, now: datetime) -> ProfileItem:
    extra = data.get("profile") or {}
    return ProfileItem(*ProfileItem.key_for(member_id), email=data.get("email"), phone=data.get("phone"),
                       name=data.get("name"), birth_date=extra.get("birth_date"), gender=extra.get("gender"),
                       city=extra.get("city"), interests=extra.get("interests"),
                       consents=rules.consents_update(None, _consent_changes(data.get("consents")), now) or None,
                       referral_code=rules.new_referral_code(), source=source, created_at=now, updated_at=now)


def create_or_enrol(data: dict[str, Any], brand_id: str | None, source: str, now: datetime, *,
                    invite_existing: bool = False) -> tuple[ProfileItem | None, EnrolmentItem | None, bool]:
    """Create a member, or enrol the existing one with the same e-mail/phone.

    Returns (profile, enrolment, created). The same brand creating the same person twice is a
    409 ``member_exists``. Concurrent creations of one e-mail race on the e-mail's lookup item
    inside a transaction: exactly one creates, the others enrol the winner (with
    ``invite_existing``, invite them: see :func:`create_or_invite`).
    """
    data = {**data, "email": rules.normalise_email(data.get("email")),
            "phone": rules.normalise_phone(data.get("phone"))}
    if not data["email"] and not data["phone"]:
        raise errors.ValidationFailed("A member needs an email or a phone.", details={"pointer": "", "rule": "anyOf"})
    for _ in range(_CREATE_ATTEMPTS):
        member_id = existing_member(data["email"], data["phone"])
        if member_id is not None and invite_existing:
            return _invite_existing(member_id, data, brand_id, now)
        if member_id is not None:
            return _enrol_existing(member_id, data, brand_id, source, now)
        member_id = new_id()
        profile = _new_profile(member_id, data, source, now)
        enrolment = store.enrolment_item(member_id, brand_id, source, now, data.get("external_id"),
                                         data.get("custom_fields")) if brand_id else None
        if enrolment is not None and enrolment.external_id and \
                store.find("EXTERNAL", f"{brand_id}#{enrolment.external_id}"):
            raise errors.Conflict("This external id already names another member of your brand.",
                                  code="external_id_taken", details={"external_id": enrolment.external_id})
        try:
            store.create(profile, enrolment)
            return profile, enrolment, True
        except store.LookupTaken:
            continue  # lost a race on the e-mail/phone (enrol the winner) or a referral code clash
    raise errors.ServiceUnavailable("Could not create the member; retry.", code="contention")


def _enrol_existing(member_id: str, data: dict[str, Any], brand_id: str | None, source: str, now: datetime
                    ) -> tuple[ProfileItem, EnrolmentItem | None, bool]:
    profile = store.get_profile(member_id)
    if profile is None or profile.status != "active":
        raise errors.Conflict("This contact belongs to a member being erased.", code="member_unavailable")
    if brand_id is None:
        raise errors.Conflict("A member with this e-mail or phone exists.", code="member_exists",
                              details={"member_id": member_id})
    enrolment = store.enrolment_item(member_id, brand_id, source, now, data.get("external_id"),
                                     data.get("custom_fields"))
    if not store.enrol(enrolment):
        raise errors.Conflict("This member is already enrolled with your brand.", code="member_exists",
                              details={"member_id": member_id})
    return profile, enrolment, False


def create_or_invite(data: dict[str, Any], brand_id: str, now: datetime
                     ) -> tuple[ProfileItem | None, EnrolmentItem, bool]:
    """What a brand key's ``POST /v1/members`` does (coalition trust rules, docs/api.md).

    A contact no member has: the member is created, enrolled with the brand that created them
    (``created`` True). A contact of an existing member not enrolled with the brand: a pending
    invitation, and no profile (None) — the brand learns nothing of the member until they
    consent (accept the invitation, or join the brand themselves). Inviting again returns the
    same invitation. A member already enrolled with the brand is 409 ``member_exists``.
    """
    return create_or_enrol(data, brand_id, "brand", now, invite_existing=True)


def _invite_existing(member_id: str, data: dict[str, Any], brand_id: str, now: datetime
                     ) -> tuple[None, EnrolmentItem, bool]:
    profile = store.get_profile(member_id)
    if profile is None or profile.status != "active":
        raise errors.Conflict("This contact belongs to a member being erased.", code="member_unavailable")
    invitation = store.enrolment_item(member_id, brand_id, "brand", now, data.get("external_id"),
                                      data.get("custom_fields"), invited=True)
    if not store.enrol(invitation):
        invitation = store.enrolment_or_invitation(member_id, brand_id)
        if invitation is None or not invitation.invited:
            raise errors.Conflict("This member is already enrolled with your brand.", code="member_exists",
                                  details={"member_id": member_id})
    return None, invitation, False


def invitations(member_id: str) -> list[EnrolmentItem]:
    own_profile(member_id)
    return store.invitations(member_id)


def accept_invitation(member_id: str, brand_id: str, now: datetime) -> EnrolmentItem:
    """The member consents to the brand's invitation: they are enrolled with it from now on."""
    own_profile(member_id)
    enrolment = store.accept_invitation(member_id, brand_id, now)
    if enrolment is None or enrolment.invited:
        raise errors.NotFound("No pending invitation from this brand.", code="invitation_not_found",
                              details={"brand_id": brand_id})
    return enrolment


def decline_invitation(member_id: str, brand_id: str) -> None:
    """Idempotent: declining an invitation that is gone (or never was) changes nothing."""
    own_profile(member_id)
    store.decline_invitation(member_id, brand_id)


def join(member_id: str, brand_id: str, now: datetime) -> tuple[EnrolmentItem, bool]:
    """The member joins a brand themselves: (enrolment, newly enrolled). A pending invitation
    from the brand is accepted (keeping the brand's external id); joining twice changes nothing."""
    own_profile(member_id)
    if brands.get_brand(brand_id).status != "active":  # 404 for a brand that does not exist
        raise errors.NotFound("No such brand.", details={"brand_id": brand_id})
    existing = store.enrolment_or_invitation(member_id, brand_id)
    if existing is not None and not existing.invited:
        return existing, False
    if existing is not None:
        accepted = store.accept_invitation(member_id, brand_id, now)
        return (accepted, True) if accepted is not None else join(member_id, brand_id, now)  # declined meanwhile
    enrolment = store.enrolment_item(member_id, brand_id, "member", now, None, None)
    if store.enrol(enrolment):
        return enrolment, True
    return join(member_id, brand_id, now)  # an invitation or a join landed meanwhile


def enrolled_profile(member_id: str, brand_id: str | None) -> tuple[ProfileItem, EnrolmentItem | None]:
    """A member as a brand (or the admin, ``brand_id`` None) may see them; others get 404."""
    profile = store.get_profile(member_id)
    enrolment = store.get_enrolment(member_id, brand_id) if brand_id else None
    if profile is None or (brand_id is not None and enrolment is None):
        raise errors.NotFound("No such member.", details={"member_id": member_id})
    return profile, enrolment


def brand_members(brand_id: str, limit: int, start_key: dict[str, Any] | None):
    return store.brand_members(brand_id, limit, start_key)


def own_profile(member_id: str) -> ProfileItem:
    profile = store.get_profile(member_id)
    if profile is None or profile.status != "active":
        raise errors.NotFound("No such member.", details={"member_id": member_id})
    return profile


def update_own_profile(member_id: str, changes: dict[str, Any], now: datetime) -> ProfileItem:
    profile = own_profile(member_id)
    actions = [ProfileItem.updated_at.set(now)]
    if "name" in changes:
        actions.append(ProfileItem.name.set(changes["name"]) if changes["name"] else ProfileItem.name.remove())
    for field in rules.PROFILE_FIELDS:
        if field in (changes.get("profile") or {}):
            value = changes["profile"][field]
            attribute = getattr(ProfileItem, field)
            actions.append(attribute.set(value) if value not in (None, "", []) else attribute.remove())
    if "consents" in changes:
        merged = rules.consents_update(profile.consents and profile.consents.as_dict(),
                                       _consent_changes(changes["consents"]), now)
        actions.append(ProfileItem.consents.set(merged))
    return store.update_profile(profile, actions)


def lookup(brand_id: str, *, email: str | None = None, external_id: str | None = None) -> list:
    """[(profile, enrolment)] of the brand's member with that e-mail or external id (empty if
    there is none, or they are not enrolled with this brand: other brands' members stay unseen)."""
    if email is not None:
        member_id = store.find("EMAIL", rules.normalise_email(email))
    else:
        member_id = store.find("EXTERNAL", f"{brand_id}#{external_id}")
    enrolment = store.get_enrolment(member_id, brand_id) if member_id else None
    profile = store.get_profile(member_id) if enrolment else None
    return [(profile, enrolment)] if profile is not None and profile.status == "active" else []


def export(member_id: str) -> dict[str, Any]:
    """Everything Punchcard holds on a member, as JSON-ready data."""
    profile = store.get_profile(member_id)
    if profile is None:
        raise errors.NotFound("No such member.", details={"member_id": member_id})
    return {"member_id": member_id, "members": store.all_items(member_id)}


def erase(member_id: str, now: datetime) -> ProfileItem:
    """Erase personal data; the member id stays as a pseudonym so the ledger still balances."""
    profile = store.get_profile(member_id)
    if profile is None:
        raise errors.NotFound("No such member.", details={"member_id": member_id})
    if profile.status == "deleted":
        return profile
    store.erase(profile, store.all_enrolments(member_id), now)  # invitations' external ids too
    bootstrap.leaderboard().set_name(member_id, None)  # the chosen name is personal; the scores are pseudonymous

    cognito.delete_login(member_id)
    return store.get_profile(member_id)
