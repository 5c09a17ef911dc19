"""API key format, generation and hashing (pure: no AWS).

A brand key is ``pcb_<key_id>_<secret>``: ``key_id`` is a 26-character ULID that finds the
stored record and, with the prefix, identifies the key in lists and logs; ``secret`` is 32
random bytes. Only a salted SHA-256 of the secret is stored. A slow password hash would add
nothing here: the secret has 256 bits of entropy, so a stolen hash cannot be brute-forced, and
the authorizer runs on every uncached request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from chalicelib import ids

BRAND_PREFIX = "pcb_"
ADMIN_PREFIX = "pca_"
_BRAND_KEY = re.compile(rf"^pcb_({ids.ID})_([A-Za-z0-9_-]{{43}})$")
VISIBLE_CHARS = len(BRAND_PREFIX) + 10


def new_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters


def brand_key(key_id: str, secret: str) -> str:
    return f"{BRAND_PREFIX}{key_id}_{secret}"


def parse_brand_key(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed brand key, else None."""
    match = _BRAND_KEY.match(token)
    return (match.group(1), match.group(2)) if match else None


def visible_prefix(key_id: str) -> str:
    """What lists and logs show of a key: enough to tell keys apart, useless to an attacker."""
    return (BRAND_PREFIX + key_id)[:VISIBLE_CHARS]


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_secret(secret: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def secret_matches(secret: str, salt: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, salt), expected_hash)


def new_admin_key() -> str:
    return ADMIN_PREFIX + new_secret()


def is_admin_key(token: str) -> bool:
    return token.startswith(ADMIN_PREFIX)
