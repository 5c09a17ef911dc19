"""Identifiers: ULIDs (sortable by creation time, 26 characters, URL-safe) and ids derived from keys."""

from __future__ import annotations

import hashlib

from ulid import ULID

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    return str(ULID())


def derived_id(*parts: str) -> str:
    """26 Crockford base32 characters (the shape of a ULID) that the same parts always give.

    128 bits of SHA-256 over the parts, so a retried request finds the id its first attempt wrote.
    """
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:16], "big")
    return "".join(CROCKFORD[(number >> (5 * i)) & 31] for i in reversed(range(26)))


def shard_of(identifier: str, shards: int) -> int:
    """A stable shard in [0, shards) from an id's last character (random in ULIDs and derived ids)."""
    index = CROCKFORD.find(identifier[-1:].upper())
    return max(index, 0) % shards
