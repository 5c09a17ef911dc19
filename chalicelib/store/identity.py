"""The ``identity`` table: brands and their API keys.

Items: ``BRAND#<id> / BRAND`` (the brand, with the ids of its keys), ``KEY#<key_id> / KEY``
(one API key: its salted hash, never the key) and ``BRANDS / ROSTER`` (every brand's id and
the first brand's: the leaderboard keeps brand boards apart only in a coalition). The
authorizer reads one key item per uncached request.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UnicodeSetAttribute, UTCDateTimeAttribute

from chalicelib.store.base import PunchcardModel, TableMeta


class IdentityTable(PunchcardModel):
    class Meta(TableMeta):
        logical_name = "identity"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class BrandItem(IdentityTable):
    name = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    key_ids = UnicodeSetAttribute(default=set)

    @staticmethod
    def key_for(brand_id: str) -> tuple[str, str]:
        return f"BRAND#{brand_id}", "BRAND"

    @property
    def brand_id(self) -> str:
        return self.pk.removeprefix("BRAND#")


class ApiKeyItem(IdentityTable):
    brand_id = UnicodeAttribute()
    salt = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    prefix = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key_for(key_id: str) -> tuple[str, str]:
        return f"KEY#{key_id}", "KEY"

    @property
    def key_id(self) -> str:
        return self.pk.removeprefix("KEY#")


class RosterItem(IdentityTable):
    """Every brand of the program (written with each brand, in its transaction) and the first
    one: while it is the only one, the program's boards are its boards."""

    brand_ids = UnicodeSetAttribute(default=set)
    first = UnicodeAttribute()

    @staticmethod
    def key_for() -> tuple[str, str]:
        return "BRANDS", "ROSTER"
