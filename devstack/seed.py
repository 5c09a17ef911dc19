"""Demo data for the local stack, and the hook each feature adds its seeding to.

A seed step takes a :class:`SeedContext` and returns entries for `.local/credentials.json`.
Steps run on every start, so each must be idempotent (create-if-absent, conditional writes):
restarting `make dev` never duplicates demo data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class SeedContext:
    api_url: str
    previous: dict[str, Any] = field(default_factory=dict)  # credentials.json of the last run
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


@step
def admin_key(context: SeedContext) -> dict[str, Any]:
    """The admin key lives in Secrets Manager (moto: memory), so it is restored from the last run."""
    from chalicelib.identity import admin

    return {"admin_key": admin.ensure(context.previous.get("admin_key"))}


@step
def demo_brand(context: SeedContext) -> dict[str, Any]:
    """One demo brand, created once; its key is kept, or replaced if the last one is unknown."""
    from chalicelib.brands import service
    from chalicelib.identity.principal import Unauthenticated
    from chalicelib.ops import store

    now = datetime.now(UTC)
    marker = store.get("seed", "demo-brand")
    if marker is None:
        brand, issued = service.create_brand(DEMO_BRAND_NAME, now)
        store.put_once("seed", "demo-brand", now, data={"brand_id": brand.brand_id})
        context.state["brand_id"] = brand.brand_id
        return {"brand_id": brand.brand_id, "brand_key": issued.api_key}
    brand_id = marker.data["brand_id"]
    context.state["brand_id"] = brand_id
    previous_key = context.previous.get("brand_key")
    if previous_key:
        try:
            if service.authenticate(previous_key, now).brand_id == brand_id:
                return {"brand_id": brand_id, "brand_key": previous_key}
        except Unauthenticated:
            pass
    issued, _ = service.rotate_key(brand_id, now)
    return {"brand_id": brand_id, "brand_key": issued.api_key}


DEMO_BRAND_NAME = "Demo Coffee"
DEMO_MEMBER = {"email": "member@demo.punchcard.local", "password": "punchcard-demo-1", "name": "Demo Member"}


@step
def demo_member(context: SeedContext) -> dict[str, Any]:
    """A member with a login, enrolled with the demo brand (created once)."""
    from chalicelib import errors
    from chalicelib.identity import cognito
    from chalicelib.members import accounts, service, store

    now = datetime.now(UTC)
    member_id = store.find("EMAIL", DEMO_MEMBER["email"])
    if member_id is None or cognito.login_status(member_id) is None:
        member_id, _ = accounts.sign_up(DEMO_MEMBER["email"], DEMO_MEMBER["password"], DEMO_MEMBER["name"], now)
    brand_id = context.state.get("brand_id")
    if brand_id and store.get_enrolment(member_id, brand_id) is None:
        with contextlib.suppress(errors.Conflict):  # enrolled meanwhile
            service.create_or_enrol({"email": DEMO_MEMBER["email"]}, brand_id, "brand", now)
    return {"member": {"id": member_id, "email": DEMO_MEMBER["email"], "password": DEMO_MEMBER["password"]}}


def run(context: SeedContext) -> dict[str, Any]:
    credentials: dict[str, Any] = {}
    for seed_step in STEPS:
        credentials.update(seed_step(context))
    return credentials
