"""Demo data for the local stack, and the hook each feature adds its seeding to.

A seed step takes a :class:`SeedContext` and returns entries for `.local/credentials.json`.
Steps run on every start, so each must be idempotent (create-if-absent, conditional writes):
restarting `make dev` never duplicates demo data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class SeedContext:
    api_url: str
    state: dict[str, Any] = field(default_factory=dict)  # shared between steps


SeedStep = Callable[[SeedContext], dict[str, Any]]

STEPS: list[SeedStep] = []


def step(fn: SeedStep) -> SeedStep:
    STEPS.append(fn)
    return fn


@step
def mark_seeded(context: SeedContext) -> dict[str, Any]:
    """Record when demo data was first seeded (once; later starts find the marker)."""
    from chalicelib.ops import store

    store.put_once("seed", "demo", datetime.now(UTC), data={"version": 1})
    return {}


def run(context: SeedContext) -> dict[str, Any]:
    credentials: dict[str, Any] = {}
    for seed_step in STEPS:
        credentials.update(seed_step(context))
    return credentials
