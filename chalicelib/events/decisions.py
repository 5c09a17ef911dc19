"""The pipeline's decisions: its port, and the in-memory adapter tests run it over.

A decision is made once and kept: what an event earns (claimed under ``event:<id>``), what a
refund request covers (``event-reversal:<id>:<key>``). A claim commits atomically with the
guards it advances (the member's event counters, an event's refunds so far), on condition
they are still at the versions read; the pipeline reads guards here too, those of the
activities' limits included, which the ledger writes with its grants. The DynamoDB adapter is
:mod:`chalicelib.events.store`; the composition root picks one.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.guards import Guard, GuardTable
from chalicelib.ledger.model import GuardChanged


class Decisions(Protocol):
    def read_guards(self, keys: list[str]) -> dict[str, tuple[int, dict]]: ...
    def claimed(self, key: str) -> dict | None: ...
    def claim(self, key: str, value: dict, guards: tuple[Guard, ...] = ()) -> dict: ...


class MemoryDecisions:
    """Claims in memory, over the guard table of the memory ledger store they go with."""

    def __init__(self, guards: GuardTable) -> None:
        self.guards = guards
        self.claims: dict[str, dict] = {}

    def read_guards(self, keys: list[str]) -> dict[str, tuple[int, dict]]:
        return self.guards.read(keys)

    def claimed(self, key: str) -> dict | None:
        return self.claims.get(key)

    def claim(self, key: str, value: dict, guards: tuple[Guard, ...] = ()) -> dict:
        """Store ``value`` under ``key`` unless something is there already; return what is.
        ``guards`` are written with a new claim, and refuse it if they moved."""
        with self.guards.lock:
            if key in self.claims:
                return self.claims[key]
            moved = self.guards.moved(guards)
            if moved is not None:
                raise GuardChanged(f"guard {moved.key} moved since it was read")
            self.guards.write(guards)
            self.claims[key] = value
            return value
