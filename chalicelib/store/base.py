"""The base of every pynamodb model: table names resolved from settings at call time."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, Projection
from pynamodb.models import Model

from chalicelib import config


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


def index(name: str, number: int, projection: type[Projection] = AllProjection) -> type[GlobalSecondaryIndex]:
    """A GSI class named ``name`` on string keys ``gsi<number>pk`` / ``gsi<number>sk`` (the
    convention of every table here: overloaded, sparse index keys)."""
    meta = type("Meta", (), {"index_name": name, "projection": projection()})
    return type(f"{name.title().replace('_', '')}Index", (GlobalSecondaryIndex,), {
        "Meta": meta, f"gsi{number}pk": UnicodeAttribute(hash_key=True),
        f"gsi{number}sk": UnicodeAttribute(range_key=True)})
