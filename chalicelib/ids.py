"""Identifiers: ULIDs (sortable by creation time, 26 characters, URL-safe) and ids derived from keys."""

from __future__ import annotations

import hashlib
import re

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# One id: 26 Crockford base32 characters (upper case; no I, L, O or U). openapi.json's ``Id``
# schema carries the same pattern (a test keeps them equal).
ID = "[0-9A-HJKMNP-TV-Z]{26}"
_ID = re.compile(ID)


def is_id(value: object) -> bool:
    """Whether ``value`` has the shape of an id (anything else names nothing, in any table)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def new_id() -> str:
    from ulid import ULID  # python-ulid on first use: a path that mints no id never pays for it

    return str(ULID())


def derived_id(*parts: str) -> str:
    """26 Crockford base32 characters (the shape of a ULID) that the same parts always give.

    128 bits of SHA-256 over the parts, so a retried request finds the id its first attempt wrote.
    """
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:16], "big")
    return "".join(CROCKFORD[(number >> (5 * i)) & 31] for i in reversed(range(26)))


def shard_of(key: str, shards: int) -> int:
    """The one shard function: a stable shard in [0, shards) from any key (an id, a member, a
    grant's seed), spread evenly by SHA-256 whatever the key's alphabet."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % shards
