"""The ``rules`` table: each brand's activities, every version kept.

Items (partition ``BRAND#<brand_id>``: one brand's rules read in one query):
- ``ACTIVITY#<id>`` — the head: the current version's number and JSON, status, channel,
  name, timestamps (listing a brand's activities, or loading its ruleset, is one query);
- ``VERSION#<id>#<version:06d>`` — every version, immutable: the activity's JSON as accepted.
  Grants record which version paid them, so versions are never edited or deleted;
- ``RULESET`` — the brand's ruleset version, bumped in the same transaction as any activity
  change: an event handler reads it (one small read) to know whether its cached, compiled
  ruleset is still current.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from chalicelib.store.base import PunchcardModel, TableMeta


class RulesTable(PunchcardModel):
    class Meta(TableMeta):
        logical_name = "rules"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


def brand_pk(brand_id: str) -> str:
    return f"BRAND#{brand_id}"


class ActivityHead(RulesTable):
    version = NumberAttribute()
    definition = JSONAttribute()
    status = UnicodeAttribute()
    channel = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(brand_id: str, activity_id: str) -> tuple[str, str]:
        return brand_pk(brand_id), f"ACTIVITY#{activity_id}"

    @property
    def activity_id(self) -> str:
        return self.sk.removeprefix("ACTIVITY#")


class ActivityVersion(RulesTable):
    definition = JSONAttribute()
    created_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(brand_id: str, activity_id: str, version: int) -> tuple[str, str]:
        return brand_pk(brand_id), f"VERSION#{activity_id}#{version:06d}"


class RulesetItem(RulesTable):
    version = NumberAttribute(default=0)

    @staticmethod
    def key_for(brand_id: str) -> tuple[str, str]:
        return brand_pk(brand_id), "RULESET"
