"""The base of every pynamodb model: table names resolved from settings at call time, and
one DynamoDB client per process.

pynamodb gives every model class its own connection, and every ``Connection()`` its own
botocore session and client, built on first use: each build parses botocore's service and
endpoint JSON again, about 0.1 s of CPU. With a dozen models and a fresh connection per
transaction, a container spent more CPU building clients than making requests. Here every
model's connection and every transaction share one client (botocore clients are
thread-safe), built once per process and endpoint.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, Projection
from pynamodb.models import Model

from chalicelib import config

_lock = threading.Lock()
_shared: dict[tuple[str, str | None], Connection] = {}


def connection() -> Connection:
    """The process's pynamodb connection (for transactions), its client built once with
    pynamodb's own settings (no parameter validation, its retries and timeouts)."""
    key = (config.region(), os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL"))
    found = _shared.get(key)
    if found is None:
        with _lock:
            found = _shared.get(key)
            if found is None:
                found = Connection(region=key[0])
                found.client  # noqa: B018  (built now, under the lock, in this thread)
                _shared[key] = found
    return found


class _TableMetaType(type):
    """Makes ``Meta.table_name`` a live lookup of the logical table's configured name.

    pynamodb reads ``Model.Meta.table_name`` whenever it builds a connection and in batch and
    transaction calls, so a property here keeps names out of import time (STYLE 11).
    """

    @property
    def table_name(cls) -> str:
        return config.table_name(cls.logical_name)


class TableMeta(metaclass=_TableMetaType):
    """Subclass as ``class Meta(TableMeta): logical_name = "system"``."""

    logical_name: str = ""
    billing_mode = "PAY_PER_REQUEST"


class PunchcardModel(Model):
    """A pynamodb model whose table lives in this deployment."""

    Meta: Any = TableMeta

    @classmethod
    def logical_name(cls) -> str:
        return cls.Meta.logical_name

    @classmethod
    def find(cls, hash_key: str, range_key: str | None = None) -> Any:
        """The item as stored now (strongly consistent), or None."""
        try:
            return cls.get(hash_key, range_key, consistent_read=True)
        except cls.DoesNotExist:
            return None

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = super()._get_connection()
        client = connection().client
        if table.connection._client is not client:
            table.connection._client = client  # the process's client, not one of its own
        return table


def index(name: str, number: int, projection: type[Projection] = AllProjection) -> type[GlobalSecondaryIndex]:
    """A GSI class named ``name`` on string keys ``gsi<number>pk`` / ``gsi<number>sk`` (the
    convention of every table here: overloaded, sparse index keys)."""
    meta = type("Meta", (), {"index_name": name, "projection": projection()})
    return type(f"{name.title().replace('_', '')}Index", (GlobalSecondaryIndex,), {
        "Meta": meta, f"gsi{number}pk": UnicodeAttribute(hash_key=True),
        f"gsi{number}sk": UnicodeAttribute(range_key=True)})
