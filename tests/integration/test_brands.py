"""Brand onboarding and the key lifecycle against DynamoDB Local."""

import json
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


def _received(sqs, url: str) -> list[dict]:
    bodies = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages"):
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_the_roster_holds_every_brand_and_the_second_brand_starts_folding_the_leaderboard(local_aws, sqs):
    from chalicelib import jobs, queues
    from chalicelib.brands import store
    from chalicelib.leaderboard import service as leaderboard

    url = queues.queue_url("jobs")
    _received(sqs, url)
    a, _ = service.create_brand("Roster A", NOW)
    listed = store.roster()
    assert a.brand_id in listed.brand_ids
    assert not [b for b in _received(sqs, url) if b["job"] == "leaderboard.fold"]  # a coalition already

    store.RosterItem(*store.RosterItem.key_for()).delete()  # a tenant from before rosters
    rebuilt = store.roster()
    assert rebuilt.brand_ids == listed.brand_ids
    created = {brand_id: store.get_brand(brand_id).created_at for brand_id in rebuilt.brand_ids}
    assert created[rebuilt.first] == min(created.values())

    try:
        store._roster_item(a.brand_id, frozenset({a.brand_id})).save()  # a programme of one brand...
        b, _ = service.create_brand("Roster B", NOW)
        assert store.roster() == store.Roster(a.brand_id, frozenset({a.brand_id, b.brand_id}))
        folds = [body for body in _received(sqs, url) if body["job"] == "leaderboard.fold"]
        assert sorted(body["args"]["segment"] for body in folds) == [0, 1, 2, 3]  # ...the others wait 90 s
        results = [jobs.run(json.dumps(body)) for body in folds]
        assert all(set(result) == {"found", "folded"} for result in results)
    finally:
        store._roster_item(rebuilt.first, rebuilt.brand_ids | {b.brand_id}).save()
        leaderboard.roster(fresh=True)
