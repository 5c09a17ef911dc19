"""Tenant settings: ``infra/tenants/<tenant>.json``, validated against ``tenant.schema.json``.

Every physical name comes from the tenant id (``punchcard-<tenant>-<logical>``) and reaches the
functions as the ``PUNCHCARD_*`` variables :mod:`chalicelib.config` reads. The stack creates its
tables and queues with those variables applied (:meth:`Tenant.environment`), so the code finds
exactly what the stack created (``tests/infra`` compares them), and two tenants never clash.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import fastjsonschema

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent
TENANTS = INFRA / "tenants"
SCHEMA = INFRA / "tenant.schema.json"


class InvalidSettings(ValueError):
    pass


@dataclass(frozen=True)
class Tenant:
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.data["tenant"]

    @property
    def prefix(self) -> str:
        return f"punchcard-{self.id}"

    @property
    def stack_name(self) -> str:
        return self.prefix

    @property
    def region(self) -> str:
        return self.data["region"]

    @property
    def production(self) -> bool:
        return self.data["environment"] == "production"

    @property
    def timezone(self) -> str:
        return self.data["program"].get("timezone", "UTC")

    @property
    def api(self) -> dict[str, int]:
        return {"throttle_rate_per_second": 100, "throttle_burst": 200, **self.data.get("api", {})}

    @property
    def log_retention_days(self) -> int:
        return self.data.get("log_retention_days", 30)

    def name(self, logical: str) -> str:
        return f"{self.prefix}-{logical}"

    @contextmanager
    def environment(self) -> Iterator[dict[str, str]]:
        """The environment the Lambda functions get, applied to this process while it lasts
        (so :mod:`chalicelib.config` derives this tenant's names)."""
        variables = self.lambda_environment()
        with applied(variables):
            yield variables

    def lambda_environment(self) -> dict[str, str]:
        from chalicelib.resources import BUCKETS, DOMAIN_BUS, QUEUES
        from chalicelib.store.tables import MODELS

        env = {"PUNCHCARD_STAGE": self.data["environment"], "PUNCHCARD_PREFIX": self.prefix,
               "PUNCHCARD_TENANT": self.id, "PUNCHCARD_TIMEZONE": self.timezone,
               "PUNCHCARD_PROGRAM_NAME": self.data["program"]["name"],
               "PUNCHCARD_POINTS_NAME": self.data["program"]["points_name"],
               "PUNCHCARD_MAIL_FROM": self.data["mail"]["sender"],
               "PUNCHCARD_ADMIN_KEY_SECRET": f"{self.prefix}/admin-key",
               "PUNCHCARD_POINTS_EXPIRE_AFTER": self.data.get("expiry", {}).get("points_expire_after", "P12M")}
        for model in MODELS:
            env[f"PUNCHCARD_TABLE_{model.logical_name().upper()}"] = self.name(model.logical_name())
        for queue in QUEUES:
            for logical in (queue.logical_name, queue.dlq_logical_name):
                env[f"PUNCHCARD_QUEUE_{logical.upper().replace('-', '_')}"] = self.name(logical)
        for bucket in BUCKETS:
            env[f"PUNCHCARD_BUCKET_{bucket.logical_name.upper()}"] = self.name(bucket.logical_name)
        env[f"PUNCHCARD_BUS_{DOMAIN_BUS.logical_name.upper()}"] = self.name(DOMAIN_BUS.logical_name)
        for network, secret in sorted(self.data.get("social", {}).items()):
            env[f"PUNCHCARD_SOCIAL_{network.upper()}_SECRET"] = secret
        return env


@contextmanager
def applied(variables: dict[str, str]) -> Iterator[None]:
    """``variables`` in this process's environment while the block runs; then as they were."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_validate = fastjsonschema.compile(json.loads(SCHEMA.read_text()))


def parse(data: Any) -> Tenant:
    """A tenant from its settings, or :class:`InvalidSettings` saying what is wrong."""
    try:
        data = _validate(data)
    except fastjsonschema.JsonSchemaException as e:
        raise InvalidSettings(f"{e.name.replace('data', 'settings', 1)}: {e.message.replace('data', 'settings', 1)}") \
            from None
    try:
        ZoneInfo(data["program"].get("timezone", "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSettings(f"settings.program.timezone: unknown timezone {data['program']['timezone']!r}") from None
    if data.get("tiers") is not None:
        from chalicelib.api.validation import validate
        from chalicelib.errors import PunchcardError

        try:
            validate("TierProgram", data["tiers"])
        except PunchcardError as e:
            raise InvalidSettings(f"settings.tiers: {e.message} {e.details}") from None
    web = data.get("web") or {}
    if bool(web.get("domain")) != bool(web.get("certificate_arn")):
        raise InvalidSettings("settings.web: a domain needs its certificate_arn (and the other way round)")
    if not data["mail"]["sender"].endswith("@" + data["mail"]["domain"]):
        raise InvalidSettings("settings.mail.sender must be an address of settings.mail.domain")
    return Tenant(data)


def load(tenant: str) -> Tenant:
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,18}[a-z0-9]", tenant or ""):
        raise InvalidSettings(f"not a tenant id: {tenant!r} (lowercase letters, digits, dashes; 3-20 characters)")
    path = TENANTS / f"{tenant}.json"
    if not path.exists():
        raise InvalidSettings(f"no settings for tenant {tenant!r}: create {path.relative_to(ROOT)} (make tenant)")
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise InvalidSettings(f"{path.name} is not JSON: {e}") from None
    found = parse(data)
    if found.id != tenant:
        raise InvalidSettings(f"{path.name} says tenant {found.id!r}; the file name and the id must agree")
    return found
