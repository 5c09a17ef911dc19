"""How members look in API replies (one shape for brands, admins and the member)."""

from __future__ import annotations

from typing import Any

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
