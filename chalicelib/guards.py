"""Guards and durations: small shared values the rules, the pipeline and the ledger all use,
kept here so none of them reaches into another's model for them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Guard:
    """A small record written in the same atomic step as a transfer or a claim, on condition
    it is still at the ``version`` read (0: it did not exist). The ledger does not interpret
    ``state``; callers keep limits, budgets and counters in guards so that what a grant
    counts against and the grant itself commit together or not at all. Stored at version+1."""

    key: str
    version: int
    state: Mapping


class GuardTable(dict):
    """Guards held in memory (``key -> (version, state)``), for the in-memory stores that
    write them: the memory ledger store (with grants) and the memory decisions (with claims)
    share one table and its lock, as their DynamoDB adapters share the ``GUARD#`` items. A
    caller holds :attr:`lock` around a check and the write it guards."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()

    def read(self, keys: list[str]) -> dict[str, tuple[int, dict]]:
        """``{key: (version, state)}``; a guard never written is ``(0, {})``."""
        return {key: self.get(key, (0, {})) for key in keys}

    def moved(self, guards: tuple[Guard, ...]) -> Guard | None:
        """The first guard no longer at the version it was read at, if any."""
        return next((g for g in guards if self.get(g.key, (0, {}))[0] != g.version), None)

    def write(self, guards: tuple[Guard, ...]) -> None:
        for guard in guards:
            self[guard.key] = (guard.version + 1, dict(guard.state))


class InvalidDuration(ValueError):
    """Not an ISO 8601 duration, not positive, or longer than a thousand years."""


def duration(text: str):
    """An ISO 8601 duration (``P12M``, ``P14D``, ``PT36H``), else :class:`InvalidDuration`."""
    import isodate  # only credits with a duration need it: kept off the import path

    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, TypeError) as e:
        raise InvalidDuration(f"{text!r} is not an ISO 8601 duration such as P12M or P14D") from e
    try:
        end = datetime(2000, 1, 1) + value
    except (OverflowError, ValueError):
        end = datetime.max
    if end <= datetime(2000, 1, 1):
        raise InvalidDuration(f"{text!r} must be a positive duration")
    if end > datetime(3000, 1, 1):
        raise InvalidDuration(f"{text!r} is longer than a thousand years")
    return value
