"""Brand onboarding and the key lifecycle against DynamoDB Local."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import errors
from chalicelib.brands import service
from chalicelib.identity.principal import Unauthenticated
from chalicelib.ids import new_id

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_a_new_brand_gets_a_working_key_shown_once(local_aws):
    brand, issued = service.create_brand("Acme", NOW)

    principal = service.authenticate(issued.api_key, NOW)

    assert (principal.role, principal.brand_id, principal.key_id) == ("brand", brand.brand_id, issued.key.key_id)
    _, keys = service.get_brand(brand.brand_id)
    assert [k.key_id for k in keys] == [issued.key.key_id]
    secret = issued.api_key[len("pcb_") + 26 + 1:]
    assert secret not in str(keys[0].serialize())  # only its salted hash is stored


@pytest.mark.parametrize("tamper", [
    lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),   # wrong secret
    lambda k: "pcb_" + new_id() + k[30:],                 # unknown key id
    lambda k: k[:20],                                     # truncated
    lambda k: "",
])
def test_wrong_keys_are_refused(local_aws, tamper):
    _, issued = service.create_brand("Acme", NOW)

    with pytest.raises(Unauthenticated):
        service.authenticate(tamper(issued.api_key), NOW)


def test_rotation_keeps_old_keys_working_for_the_grace_period_only(local_aws, monkeypatch):
    monkeypatch.setenv("PUNCHCARD_KEY_ROTATION_GRACE_SECONDS", "3600")
    brand, first = service.create_brand("Acme", NOW)

    second, grace_ends = service.rotate_key(brand.brand_id, NOW)

    assert grace_ends == NOW + timedelta(hours=1)
    assert service.authenticate(first.api_key, NOW + timedelta(minutes=59)).brand_id == brand.brand_id
    with pytest.raises(Unauthenticated):
        service.authenticate(first.api_key, NOW + timedelta(minutes=61))
    assert service.authenticate(second.api_key, NOW + timedelta(days=30)).brand_id == brand.brand_id


def test_rotating_twice_never_extends_an_older_keys_grace(local_aws, monkeypatch):
    monkeypatch.setenv("PUNCHCARD_KEY_ROTATION_GRACE_SECONDS", "3600")
    brand, first = service.create_brand("Acme", NOW)
    service.rotate_key(brand.brand_id, NOW)

    service.rotate_key(brand.brand_id, NOW + timedelta(minutes=30))

    with pytest.raises(Unauthenticated):
        service.authenticate(first.api_key, NOW + timedelta(minutes=61))


def test_revocation_is_immediate_and_idempotent(local_aws):
    brand, issued = service.create_brand("Acme", NOW)

    service.revoke_key(brand.brand_id, issued.key.key_id, NOW)
    again = service.revoke_key(brand.brand_id, issued.key.key_id, NOW + timedelta(hours=1))

    assert again.revoked_at == NOW
    with pytest.raises(Unauthenticated):
        service.authenticate(issued.api_key, NOW)


def test_a_brand_cannot_revoke_through_another_brands_id(local_aws):
    acme, acme_key = service.create_brand("Acme", NOW)
    other, _ = service.create_brand("Other", NOW)

    with pytest.raises(errors.NotFound):
        service.revoke_key(other.brand_id, acme_key.key.key_id, NOW)
    assert service.authenticate(acme_key.api_key, NOW).brand_id == acme.brand_id


def test_unknown_brand_is_not_found(local_aws):
    with pytest.raises(errors.NotFound):
        service.rotate_key(new_id(), NOW)
