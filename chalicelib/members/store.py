"""Members, their lookups and enrolments in DynamoDB."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import aws, errors
from chalicelib.store.base import connection
from chalicelib.store.members import EnrolmentItem, LookupItem, MembersTable, ProfileItem


class LookupTaken(Exception):
    """A uniqueness guard (e-mail, phone, referral code, external id) already exists."""


def _lookup(kind: str, value: str, member_id: str) -> LookupItem:
    return LookupItem(*LookupItem.key_for(kind, value), member_id=member_id)


def find(kind: str, value: str | None) -> str | None:
    """The member id a lookup points to (consistent read)."""
    if not value:
        return None
    try:
        return LookupItem.get(*LookupItem.key_for(kind, value), consistent_read=True).member_id
    except DoesNotExist:
        return None


def get_profile(member_id: str) -> ProfileItem | None:
    try:
        return ProfileItem.get(*ProfileItem.key_for(member_id), consistent_read=True)
    except DoesNotExist:
        return None


def profiles(member_ids: list[str]) -> dict[str, ProfileItem]:
    """Many members' profiles (those that exist) in one strongly consistent BatchGetItem per 100."""
    if not member_ids:
        return {}
    keys = [ProfileItem.key_for(m) for m in dict.fromkeys(member_ids)]
    return {item.member_id: item for item in ProfileItem.batch_get(keys, consistent_read=True)}


def profiles_and_enrolments(member_ids: list[str], brand_id: str) -> dict[str, tuple[ProfileItem | None,
                                                                                  EnrolmentItem | None]]:
    """Many members' profiles and enrolments with ``brand_id`` in two strongly consistent
    BatchGetItem calls per 100 members, not two GetItem calls per member (a pending invitation
    is no enrolment, as in :func:`get_enrolment`)."""
    found = profiles(member_ids)
    enrolled = {item.pk.removeprefix("MEMBER#"): item for item in EnrolmentItem.batch_get(
        [EnrolmentItem.key_for(m, brand_id) for m in found], consistent_read=True) if not item.invited} \
        if found else {}
    return {m: (found.get(m), enrolled.get(m)) for m in member_ids}


def enrolment_or_invitation(member_id: str, brand_id: str) -> EnrolmentItem | None:
    try:
        return EnrolmentItem.get(*EnrolmentItem.key_for(member_id, brand_id), consistent_read=True)
    except DoesNotExist:
        return None


def get_enrolment(member_id: str, brand_id: str) -> EnrolmentItem | None:
    """The member's enrolment with the brand; a pending invitation is none (no consent yet)."""
    item = enrolment_or_invitation(member_id, brand_id)
    return None if item is None or item.invited else item


def all_enrolments(member_id: str) -> list[EnrolmentItem]:
    return list(EnrolmentItem.query(f"MEMBER#{member_id}", EnrolmentItem.sk.startswith("ENROL#"),
                                    consistent_read=True))


def enrolments(member_id: str) -> list[EnrolmentItem]:
    """The brands the member is enrolled with (consented), not the pending invitations."""
    return [e for e in all_enrolments(member_id) if not e.invited]


def invitations(member_id: str) -> list[EnrolmentItem]:
    return [e for e in all_enrolments(member_id) if e.invited]


def enrolment_item(member_id: str, brand_id: str, source: str, now: datetime, external_id: str | None,
                   custom_fields: dict[str, Any] | None, *, invited: bool = False) -> EnrolmentItem:
    """An enrolment, or with ``invited`` a pending invitation (not in the brand's member list)."""
    if invited:
        return EnrolmentItem(*EnrolmentItem.key_for(member_id, brand_id), brand_id=brand_id, source=source,
                             enrolled_at=now, invited_at=now, status="invited", external_id=external_id,
                             custom_fields=custom_fields or None)
    return EnrolmentItem(*EnrolmentItem.key_for(member_id, brand_id), brand_id=brand_id, source=source,
                         enrolled_at=now, external_id=external_id, custom_fields=custom_fields or None,
                         gsi1pk=f"BRAND#{brand_id}", gsi1sk=f"MEMBER#{member_id}")


def create(profile: ProfileItem, enrolment: EnrolmentItem | None) -> None:
    """Profile, its lookups and (optionally) the first enrolment, all or nothing."""
    member_id = profile.member_id
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(profile, condition=ProfileItem.pk.does_not_exist())
            for kind, value in (("EMAIL", profile.email), ("PHONE", profile.phone),
                                ("REFERRAL", profile.referral_code)):
                if value:
                    tx.save(_lookup(kind, value, member_id), condition=LookupItem.pk.does_not_exist())
            if enrolment is not None:
                tx.save(enrolment, condition=EnrolmentItem.pk.does_not_exist())
                if enrolment.external_id:
                    tx.save(_lookup("EXTERNAL", f"{enrolment.brand_id}#{enrolment.external_id}", member_id),
                            condition=LookupItem.pk.does_not_exist())
    except TransactWriteError as e:
        raise LookupTaken(str(e)) from e


def enrol(enrolment: EnrolmentItem) -> bool:
    """Add an enrolment (or an invitation); False when the member already has one with that
    brand (enrolled or invited: see :func:`enrolment_or_invitation`)."""
    member_id = enrolment.pk.removeprefix("MEMBER#")
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(enrolment, condition=EnrolmentItem.pk.does_not_exist())
            tx.condition_check(ProfileItem, *ProfileItem.key_for(member_id),
                               condition=ProfileItem.status == "active")
            if enrolment.external_id:
                tx.save(_lookup("EXTERNAL", f"{enrolment.brand_id}#{enrolment.external_id}", member_id),
                        condition=LookupItem.pk.does_not_exist())
    except TransactWriteError as e:
        # Which guard failed decides the answer (pynamodb reorders items: re-read, do not index).
        if enrolment_or_invitation(member_id, enrolment.brand_id) is not None:
            return False
        profile = get_profile(member_id)
        if profile is None or profile.status != "active":
            raise errors.NotFound("No such member.", details={"member_id": member_id}) from e
        if enrolment.external_id and find("EXTERNAL", f"{enrolment.brand_id}#{enrolment.external_id}"):
            raise errors.Conflict("This external id already names another member of your brand.",
                                  code="external_id_taken", details={"external_id": enrolment.external_id}) from e
        raise
    return True


def accept_invitation(member_id: str, brand_id: str, now: datetime) -> EnrolmentItem | None:
    """Turn the brand's pending invitation into an enrolment (the member consented); None if
    there is no pending invitation. Idempotent for an enrolment that already exists."""
    item = enrolment_or_invitation(member_id, brand_id)
    if item is None or not item.invited:
        return item
    try:
        item.update(actions=[EnrolmentItem.status.remove(), EnrolmentItem.enrolled_at.set(now),
                             EnrolmentItem.gsi1pk.set(f"BRAND#{brand_id}"),
                             EnrolmentItem.gsi1sk.set(f"MEMBER#{member_id}")],
                    condition=EnrolmentItem.status == "invited")
    except UpdateError as e:
        if e.cause_response_code != "ConditionalCheckFailedException":
            raise
        return enrolment_or_invitation(member_id, brand_id)  # accepted (or declined) meanwhile
    return item


def decline_invitation(member_id: str, brand_id: str) -> bool:
    """Delete the brand's pending invitation and its external-id lookup; False if none."""
    item = enrolment_or_invitation(member_id, brand_id)
    if item is None or not item.invited:
        return False
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(item, condition=EnrolmentItem.status == "invited")
            if item.external_id:
                tx.delete(LookupItem(*LookupItem.key_for("EXTERNAL", f"{brand_id}#{item.external_id}")),
                          condition=LookupItem.member_id == member_id)
    except TransactWriteError:
        return False  # accepted or declined meanwhile
    return True


def brand_members(brand_id: str, limit: int, start_key: dict[str, Any] | None
                  ) -> tuple[list[tuple[ProfileItem, EnrolmentItem]], dict[str, Any] | None]:
    """One page of a brand's members (by enrolment, oldest id first) and the key of the next."""
    query = MembersTable.by_brand.query(f"BRAND#{brand_id}", limit=limit, last_evaluated_key=start_key)
    member_ids = [item.gsi1sk.removeprefix("MEMBER#") for item in query]
    if not member_ids:
        return [], None
    profiles = {p.member_id: p for p in ProfileItem.batch_get([ProfileItem.key_for(m) for m in member_ids])}
    enrolled = {e.pk.removeprefix("MEMBER#"): e
                for e in EnrolmentItem.batch_get([EnrolmentItem.key_for(m, brand_id) for m in member_ids])}
    rows = [(profiles[m], enrolled[m]) for m in member_ids if m in profiles and m in enrolled]
    return rows, query.last_evaluated_key


def put_referral_code(member_id: str, code: str) -> bool:
    try:
        _lookup("REFERRAL", code, member_id).save(condition=LookupItem.pk.does_not_exist())
    except PutError as e:
        if e.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def update_profile(profile: ProfileItem, actions: list) -> ProfileItem:
    profile.update(actions=actions, condition=ProfileItem.status == "active")
    return profile


def set_has_login(member_id: str, value: bool) -> None:
    ProfileItem(*ProfileItem.key_for(member_id)).update(actions=[ProfileItem.has_login.set(value)],
                                                        condition=ProfileItem.pk.exists())


def erase(profile: ProfileItem, enrolled: list[EnrolmentItem], now: datetime) -> None:
    """Remove personal data; keep the member id (the ledger's account) and the enrolments' ids."""
    with TransactWrite(connection=connection()) as tx:
        tx.update(profile, actions=[
            ProfileItem.status.set("deleted"), ProfileItem.deleted_at.set(now), ProfileItem.updated_at.set(now),
            ProfileItem.email.remove(), ProfileItem.phone.remove(), ProfileItem.name.remove(),
            ProfileItem.birth_date.remove(), ProfileItem.gender.remove(), ProfileItem.city.remove(),
            ProfileItem.interests.remove(), ProfileItem.consents.remove(), ProfileItem.referral_code.remove(),
            ProfileItem.has_login.set(False)])
        for kind, value in (("EMAIL", profile.email), ("PHONE", profile.phone), ("REFERRAL", profile.referral_code)):
            if value:
                tx.delete(LookupItem(*LookupItem.key_for(kind, value)))
        for enrolment in enrolled:
            tx.update(enrolment, actions=[EnrolmentItem.external_id.remove(), EnrolmentItem.custom_fields.remove()])
            if enrolment.external_id:
                tx.delete(LookupItem(*LookupItem.key_for("EXTERNAL", f"{enrolment.brand_id}#{enrolment.external_id}")))


def all_items(member_id: str) -> list[dict[str, Any]]:
    """Every item stored under the member, every attribute, as JSON-ready data (for export)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    paginator = aws.client("dynamodb").get_paginator("query")
    items = []
    for page in paginator.paginate(TableName=MembersTable.Meta.table_name, ConsistentRead=True,
                                   KeyConditionExpression="pk = :pk",
                                   ExpressionAttributeValues={":pk": {"S": f"MEMBER#{member_id}"}}):
        items += [_json_ready({k: deserializer.deserialize(v) for k, v in item.items()}) for item in page["Items"]]
    return items


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
