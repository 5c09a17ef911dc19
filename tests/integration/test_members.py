"""Members: one per program, enrolled per brand; uniqueness under races; erasure."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from chalicelib import errors
from chalicelib.members import service, store
from chalicelib.members.profile import normalise_phone

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def email():
    return f"m-{uuid.uuid4().hex[:10]}@example.com"


def test_a_brand_creates_a_member_with_profile_consents_and_its_own_fields(local_aws):
    address = email()
    profile, enrolment, created = service.create_or_enrol(
        {"email": address.upper(), "name": "Ada", "profile": {"city": "Delft", "interests": ["coffee"]},
         "consents": {"email": True, "sms": False}, "external_id": "CRM-1", "custom_fields": {"tier": "x"}},
        "brand-a", "brand", NOW)

    assert created
    assert profile.email == address  # normalised
    assert profile.consents.as_dict()["email"] == {"granted": True, "updated_at": "2026-11-01T00:00:00Z"}
    assert len(profile.referral_code) == 8
    assert (enrolment.brand_id, enrolment.external_id) == ("brand-a", "CRM-1")
    assert store.find("EMAIL", address) == profile.member_id
    assert store.find("REFERRAL", profile.referral_code) == profile.member_id
    assert store.find("EXTERNAL", "brand-a#CRM-1") == profile.member_id


def test_another_brand_enrols_the_same_person_and_gets_the_same_id(local_aws):
    address = email()
    first, _, _ = service.create_or_enrol({"email": address}, "brand-a", "brand", NOW)

    second, enrolment, created = service.create_or_enrol({"email": address, "external_id": "B-7"}, "brand-b",
                                                         "brand", NOW)

    assert not created
    assert second.member_id == first.member_id
    assert enrolment.brand_id == "brand-b"
    assert {e.brand_id for e in store.enrolments(first.member_id)} == {"brand-a", "brand-b"}


def test_the_same_brand_creating_the_same_person_twice_is_a_conflict(local_aws):
    address = email()
    first, _, _ = service.create_or_enrol({"email": address}, "brand-a", "brand", NOW)

    with pytest.raises(errors.Conflict) as caught:
        service.create_or_enrol({"email": address}, "brand-a", "brand", NOW)

    assert caught.value.code == "member_exists"
    assert caught.value.details == {"member_id": first.member_id}


def test_email_and_phone_of_two_different_members_conflict(local_aws):
    a, _, _ = service.create_or_enrol({"email": email()}, "brand-a", "brand", NOW)
    phone = f"+3161{uuid.uuid4().int % 10**7:07d}"
    service.create_or_enrol({"phone": phone}, "brand-a", "brand", NOW)

    with pytest.raises(errors.Conflict) as caught:
        service.create_or_enrol({"email": a.email, "phone": phone}, "brand-b", "brand", NOW)

    assert caught.value.code == "identity_conflict"


def test_an_external_id_names_one_member_per_brand(local_aws):
    service.create_or_enrol({"email": email(), "external_id": "DUP"}, "brand-x", "brand", NOW)

    with pytest.raises(errors.Conflict) as caught:
        service.create_or_enrol({"email": email(), "external_id": "DUP"}, "brand-x", "brand", NOW)

    assert caught.value.code == "external_id_taken"
    service.create_or_enrol({"email": email(), "external_id": "DUP"}, "brand-y", "brand", NOW)  # other brand: fine


def test_concurrent_creations_of_one_email_make_one_member(local_aws):
    address = email()
    brands = [f"brand-{i}" for i in range(12)]

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda b: service.create_or_enrol({"email": address}, b, "brand", NOW), brands))

    assert len({profile.member_id for profile, _, _ in results}) == 1
    assert sum(created for _, _, created in results) == 1
    member_id = results[0][0].member_id
    assert {e.brand_id for e in store.enrolments(member_id)} == set(brands)


@pytest.mark.parametrize(("raw", "normal"), [("+31 6 1234 5678", "+31612345678"),
                                             ("+1 (415) 555-0100", "+14155550100")])
def test_phones_are_normalised(raw, normal):
    assert normalise_phone(raw) == normal


@pytest.mark.parametrize("raw", ["0612345678", "+0123456", "phone", "+1"])
def test_bad_phones_are_refused(raw):
    with pytest.raises(errors.ValidationFailed):
        normalise_phone(raw)


def test_a_member_needs_an_email_or_phone(local_aws):
    with pytest.raises(errors.ValidationFailed):
        service.create_or_enrol({"name": "nobody"}, "brand-a", "brand", NOW)


def test_consent_changes_are_timestamped_and_unchanged_answers_keep_their_time(local_aws):
    profile, _, _ = service.create_or_enrol({"email": email(), "consents": {"email": True}}, "b", "brand", NOW)
    later = datetime(2026, 12, 1, tzinfo=UTC)

    updated = service.update_own_profile(profile.member_id, {"consents": {"email": True, "sms": True}}, later)

    consents = store.get_profile(updated.member_id).consents.as_dict()
    assert consents["email"]["updated_at"] == "2026-11-01T00:00:00Z"
    assert consents["sms"] == {"granted": True, "updated_at": "2026-12-01T00:00:00Z"}


def test_erasure_removes_personal_data_and_keeps_the_pseudonymous_id(local_aws):
    address = email()
    profile, _, _ = service.create_or_enrol({"email": address, "name": "Ada", "external_id": "E-1",
                                             "profile": {"city": "Delft"}}, "brand-e", "brand", NOW)
    member_id = profile.member_id

    erased = service.erase(member_id, NOW)

    assert erased.status == "deleted"
    assert (erased.email, erased.name, erased.city, erased.referral_code) == (None, None, None, None)
    assert store.find("EMAIL", address) is None
    assert store.find("EXTERNAL", "brand-e#E-1") is None
    assert [e.external_id for e in store.enrolments(member_id)] == [None]
    export = service.export(member_id)
    assert address not in str(export)
    assert "Delft" not in str(export)
    # the e-mail is free again: a new member, with a new id
    again, _, created = service.create_or_enrol({"email": address}, "brand-e", "brand", NOW)
    assert created
    assert again.member_id != member_id


def test_export_holds_everything_stored_under_the_member(local_aws):
    profile, _, _ = service.create_or_enrol({"email": email(), "name": "Ada", "custom_fields": {"k": "v"}},
                                            "brand-q", "brand", NOW)

    export = service.export(profile.member_id)

    kinds = {item["sk"] for item in export["members"]}
    assert kinds == {"PROFILE", "ENROL#brand-q"}
    assert "Ada" in str(export)


def test_a_brand_invites_an_existing_member_who_then_accepts_or_declines(local_aws):
    address = email()
    member, _, _ = service.create_or_enrol({"email": address}, "brand-a", "brand", NOW)
    member_id = member.member_id

    profile, invitation, created = service.create_or_invite({"email": address, "external_id": "B-1"}, "brand-b", NOW)
    again = service.create_or_invite({"email": address}, "brand-b", NOW)

    assert (profile, created, again[0]) == (None, False, None)
    assert invitation.invited
    assert again[1].invited
    assert store.get_enrolment(member_id, "brand-b") is None  # an invitation is no enrolment
    assert [e.brand_id for e in store.enrolments(member_id)] == ["brand-a"]
    assert [e.brand_id for e in store.invitations(member_id)] == ["brand-b"]
    assert service.lookup("brand-b", external_id="B-1") == []
    assert service.lookup("brand-b", email=address) == []
    with pytest.raises(errors.NotFound):
        service.enrolled_profile(member_id, "brand-b")
    assert member_id not in [p.member_id for p, _ in store.brand_members("brand-b", 100, None)[0]]

    with ThreadPoolExecutor(4) as pool:  # a double tap on "Accept"
        accepted = list(pool.map(lambda _: service.accept_invitation(member_id, "brand-b", NOW), range(4)))

    assert all(not e.invited for e in accepted)
    assert service.enrolled_profile(member_id, "brand-b")[1].external_id == "B-1"
    assert member_id in [p.member_id for p, _ in store.brand_members("brand-b", 100, None)[0]]
    with pytest.raises(errors.Conflict):
        service.create_or_invite({"email": address}, "brand-b", NOW)  # member_exists: B knows them now

    service.create_or_invite({"email": address, "external_id": "C-1"}, "brand-c", NOW)
    service.decline_invitation(member_id, "brand-c")
    service.decline_invitation(member_id, "brand-c")  # idempotent
    assert store.enrolment_or_invitation(member_id, "brand-c") is None
    assert store.find("EXTERNAL", "brand-c#C-1") is None  # the brand's external id is released
    with pytest.raises(errors.NotFound):
        service.accept_invitation(member_id, "brand-c", NOW)


def test_a_member_new_to_the_programme_is_enrolled_with_the_brand_that_creates_them(local_aws):
    profile, enrolment, created = service.create_or_invite({"email": email()}, "brand-a", NOW)

    assert created
    assert not enrolment.invited
    assert service.enrolled_profile(profile.member_id, "brand-a")[1].brand_id == "brand-a"


def test_two_brands_creating_one_new_contact_at_once_make_one_member_and_one_invitation(local_aws):
    for _ in range(3):
        address = email()
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda brand, a=address: service.create_or_invite({"email": a}, brand, NOW),
                                    ["brand-a", "brand-b"]))

        created = [r for r in results if r[2]]
        invited = [r for r in results if not r[2]]
        assert len(created) == len(invited) == 1
        assert invited[0][0] is None
        assert invited[0][1].invited
        member_id = created[0][0].member_id
        assert [e.brand_id for e in store.enrolments(member_id)] == [created[0][1].brand_id]
