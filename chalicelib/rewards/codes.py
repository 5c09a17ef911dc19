"""Voucher codes: a reward's pool of codes to hand out, and codes generated at redemption."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from chalicelib import errors
from chalicelib.rewards import catalog, store

UPLOAD_WORKERS = 16
UPLOAD_STALE = timedelta(minutes=5)  # an upload lock older than this (a crashed upload) is taken over
CHOICES = 8  # available codes read per claim attempt; one is picked at random


def upload(brand_id: str, reward_id: str, codes: list[str], now: datetime) -> dict[str, int]:
    """Add codes to the reward's pool; duplicates (in the upload or already pooled) are
    skipped. One upload per reward at a time (409 ``upload_in_progress``): with that, a code
    absent when checked cannot be claimed before it is written, so no code is ever rewritten
    and none handed out twice. Reads and writes go 16 at a time: 100,000 codes in seconds."""
    item = catalog.get(reward_id, brand_id)
    if item.definition.get("fulfilment") != "voucher_pool":
        raise errors.Conflict("This reward is not fulfilled from a code pool.", code="not_a_code_pool",
                              details={"reward_id": reward_id})
    if not store.lock_uploads(item, now, UPLOAD_STALE):
        raise errors.Conflict("Codes are being uploaded to this reward; try again when that is done.",
                              code="upload_in_progress", details={"reward_id": reward_id})
    try:
        unique = list(dict.fromkeys(codes))
        with ThreadPoolExecutor(UPLOAD_WORKERS) as pool:
            found = pool.map(lambda chunk: store.pooled(reward_id, chunk), _chunks(unique, 100))
            existing = set().union(*found)
            new = [code for code in unique if code not in existing]
            list(pool.map(lambda chunk: store.pool(reward_id, chunk, now), _chunks(new, 500)))
    finally:
        store.unlock_uploads(item)
    catalog.restocked(item)
    return {"received": len(codes), "added": len(new), "duplicates": len(codes) - len(new)}


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[start:start + size] for start in range(0, len(values), size)]


def pick(reward_id: str) -> str | None:
    """One of a few available codes of the pool, at random (None: the pool is empty)."""
    choices = store.available_codes(reward_id, CHOICES)
    return secrets.choice(choices) if choices else None


def generate() -> str:
    """A fresh code: 64 random bits as four groups of hex (recorded at the claim, so unique)."""
    return "-".join(secrets.token_hex(2).upper() for _ in range(4))
