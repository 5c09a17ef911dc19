"""Brand onboarding and key lifecycle; authenticating a brand key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import config, errors, queues
from chalicelib.brands import store
from chalicelib.identity import keys
from chalicelib.identity.principal import Principal, Unauthenticated
from chalicelib.ids import new_id
from chalicelib.leaderboard import model as leaderboard
from chalicelib.store.identity import ApiKeyItem, BrandItem


@dataclass(frozen=True)
class IssuedKey:
    """A key as shown once, at creation: the only time the full key exists outside the caller."""

    key: ApiKeyItem
    api_key: str


def _issue_key(brand_id: str, now: datetime) -> IssuedKey:
    key_id, secret, salt = new_id(), keys.new_secret(), keys.new_salt()
    item = ApiKeyItem(*ApiKeyItem.key_for(key_id), brand_id=brand_id, salt=salt,
                      secret_hash=keys.hash_secret(secret, salt), prefix=keys.visible_prefix(key_id),
                      created_at=now)
    return IssuedKey(item, keys.brand_key(key_id, secret))


FOLD_AGAIN_SECONDS = 90  # > the roster's cache in the leaderboard's readers and a transaction's retries


def create_brand(name: str, now: datetime) -> tuple[BrandItem, IssuedKey]:
    """A new brand and its first key. The second brand makes the program a coalition: the
    leaderboard's program boards, kept alone while there was one brand, are folded into the
    first brand's boards (``leaderboard.fold`` jobs, at once and again after any single-brand
    transaction still in flight has ended)."""
    brand_id = new_id()
    issued = _issue_key(brand_id, now)
    brand, before = store.create_brand(brand_id, name, issued.key, now)
    if len(before.brand_ids) == 1:
        for delay in (0, FOLD_AGAIN_SECONDS):
            for body in leaderboard.fold_jobs():
                queues.send("jobs", body, delay_seconds=delay)
    return brand, issued


def roster() -> store.Roster | None:
    return store.roster()


def get_brand(brand_id: str) -> tuple[BrandItem, list[ApiKeyItem]]:
    brand = store.get_brand(brand_id)
    return brand, store.keys_of(brand)


def rotate_key(brand_id: str, now: datetime) -> tuple[IssuedKey, datetime]:
    """A new key; every other live key of the brand keeps working until ``now`` + grace."""
    brand = store.get_brand(brand_id)
    grace_ends = now + timedelta(seconds=config.key_rotation_grace_seconds())
    retire = [(k, grace_ends) for k in store.keys_of(brand)
              if k.revoked_at is None and (k.expires_at is None or k.expires_at > grace_ends)]
    issued = _issue_key(brand_id, now)
    store.add_key(brand, issued.key, retire)
    return issued, grace_ends


def revoke_key(brand_id: str, key_id: str, now: datetime) -> ApiKeyItem:
    """Revoke at once. Revoking an already revoked key is a no-op (idempotent DELETE)."""
    key = store.get_key(key_id, consistent=True)
    if key is None or key.brand_id != brand_id:
        raise errors.NotFound("No such key for this brand.", details={"key_id": key_id})
    if key.revoked_at is not None:
        return key
    return store.revoke(key, now)


def key_state(key: ApiKeyItem, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active" if key.expires_at is None else "expiring"


def authenticate(token: str, now: datetime) -> Principal:
    parsed = keys.parse_brand_key(token)
    if parsed is None:
        raise Unauthenticated("malformed brand key")
    key_id, secret = parsed
    key = store.get_key(key_id)
    if key is None or not keys.secret_matches(secret, key.salt, key.secret_hash):
        raise Unauthenticated("unknown brand key")
    if key_state(key, now) in ("revoked", "expired"):
        raise Unauthenticated(f"brand key {key.prefix} is {key_state(key, now)}")
    return Principal(role="brand", brand_id=key.brand_id, key_id=key_id)
