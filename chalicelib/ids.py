"""Identifiers: ULIDs (sortable by creation time, 26 characters, URL-safe)."""

from __future__ import annotations


def new_id() -> str:
    from ulid import ULID  # imported on first use: ~60 ms the cold path should not pay

    return str(ULID())
