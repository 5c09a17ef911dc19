"""API key format and hashing."""

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.identity import keys
from chalicelib.ids import new_id


def test_a_brand_key_round_trips_and_only_its_hash_verifies():
    key_id, secret, salt = new_id(), keys.new_secret(), keys.new_salt()
    token = keys.brand_key(key_id, secret)

    assert keys.parse_brand_key(token) == (key_id, secret)
    stored = keys.hash_secret(secret, salt)
    assert secret not in stored
    assert keys.secret_matches(secret, salt, stored)
    assert not keys.secret_matches(secret + "x", salt, stored)
    assert not keys.secret_matches(secret, keys.new_salt(), stored)


def test_the_same_secret_hashes_differently_under_different_salts():
    secret = keys.new_secret()

    assert keys.hash_secret(secret, "a" * 32) != keys.hash_secret(secret, "b" * 32)


def test_the_visible_prefix_identifies_without_revealing_the_secret():
    key_id = new_id()

    prefix = keys.visible_prefix(key_id)

    assert prefix.startswith("pcb_")
    assert key_id.startswith(prefix[4:])


@given(st.text(max_size=120))
def test_parsing_never_accepts_garbage(text):
    parsed = keys.parse_brand_key(text)
    if parsed is not None:
        assert text == keys.brand_key(*parsed)


def test_admin_keys_are_recognised_by_prefix():
    assert keys.is_admin_key(keys.new_admin_key())
    assert not keys.is_admin_key("pcb_x")
