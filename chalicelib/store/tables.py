"""Every table of the platform, in one place: the local stack and the CDK stack read this.

A table's schema (keys, indexes, TTL, billing) is its pynamodb model; nothing else describes it.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import TTLAttribute

from chalicelib.store.analytics import AnalyticsTable
from chalicelib.store.base import PunchcardModel
from chalicelib.store.events import EventsTable
from chalicelib.store.identity import IdentityTable
from chalicelib.store.ledger import LedgerTable
from chalicelib.store.members import MembersTable
from chalicelib.store.rewards import RewardsTable
from chalicelib.store.rules import RulesTable
from chalicelib.store.standings import StandingsTable
from chalicelib.store.system import SystemRecord

# One model per table: the one that declares its keys and indexes (entity models subclass it).
MODELS: tuple[type[PunchcardModel], ...] = (SystemRecord, IdentityTable, MembersTable, LedgerTable, RulesTable,
                                            EventsTable, RewardsTable, StandingsTable, AnalyticsTable)


def ttl_attribute(model: type[PunchcardModel]) -> str | None:
    """Name of the model's TTL attribute, if it has one."""
    for name, attr in model.get_attributes().items():
        if isinstance(attr, TTLAttribute):
            return attr.attr_name or name
    return None


def table_definitions() -> list[dict[str, Any]]:
    """Deployment-neutral schema of every table (logical name, keys, indexes, TTL)."""
    definitions = []
    for model in MODELS:
        schema = model._get_schema()  # pynamodb's own CreateTable shape
        definitions.append({
            "logical_name": model.logical_name(),
            "table_name": model.Meta.table_name,
            "key_schema": schema["key_schema"],
            "attribute_definitions": schema["attribute_definitions"],
            "global_secondary_indexes": schema.get("global_secondary_indexes", []),
            "local_secondary_indexes": schema.get("local_secondary_indexes", []),
            "billing_mode": model.Meta.billing_mode,
            "ttl_attribute": ttl_attribute(model),
        })
    return definitions
