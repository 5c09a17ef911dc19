"""Timestamps as the API writes them: RFC 3339, UTC, with a trailing Z."""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
