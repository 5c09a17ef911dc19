"""The ``members`` table: one program-wide profile per member, lookups, and enrolments.

Items:
- ``MEMBER#<id> / PROFILE`` — the profile (personal data lives here and nowhere else);
- ``MEMBER#<id> / ENROL#<brand_id>`` — the member's enrolment with a brand, with that brand's
  own data (external id, custom fields); GSI1 (``BRAND#<brand_id>``) lists a brand's members.
  ``status`` ``invited``: a brand's invitation of an existing member, pending the member's
  consent; it has no GSI1 keys (the brand does not list it) and counts as no enrolment;
- ``EMAIL#<email>``, ``PHONE#<phone>``, ``REFERRAL#<code>``, ``EXTERNAL#<brand>#<id>`` /
  ``LOOKUP`` — uniqueness guards and lookups, written in the same transaction as what they
  point to, so two creations of one e-mail can never both succeed.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)

from chalicelib.store.base import PunchcardModel, TableMeta, index

ByBrandIndex = index("gsi1", 1)


class MembersTable(PunchcardModel):
    class Meta(TableMeta):
        logical_name = "members"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_brand = ByBrandIndex()


class ProfileItem(MembersTable):
    status = UnicodeAttribute(default="active")  # active | deleted
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    birth_date = UnicodeAttribute(null=True)
    gender = UnicodeAttribute(null=True)
    city = UnicodeAttribute(null=True)
    interests = ListAttribute(of=UnicodeAttribute, null=True)
    consents = MapAttribute(null=True)  # {"email": {"granted": bool, "updated_at": iso}, ...}
    referral_code = UnicodeAttribute(null=True)
    has_login = BooleanAttribute(default=False)
    source = UnicodeAttribute(null=True)  # brand | signup | admin
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    deleted_at = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key_for(member_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", "PROFILE"

    @property
    def member_id(self) -> str:
        return self.pk.removeprefix("MEMBER#")


class EnrolmentItem(MembersTable):
    brand_id = UnicodeAttribute()
    status = UnicodeAttribute(null=True)  # absent: enrolled; "invited": pending the member's consent
    invited_at = UTCDateTimeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    custom_fields = MapAttribute(null=True)
    source = UnicodeAttribute()
    enrolled_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(member_id: str, brand_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"ENROL#{brand_id}"

    @property
    def invited(self) -> bool:
        return self.status == "invited"


class LookupItem(MembersTable):
    member_id = UnicodeAttribute()

    @staticmethod
    def key_for(kind: str, value: str) -> tuple[str, str]:
        return f"{kind}#{value}", "LOOKUP"
