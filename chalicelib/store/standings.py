"""The ``standings`` table: where members stand — tiers (levels) and the leaderboard.

Items:
- ``PROGRAM / TIERS`` — the program's tier configuration as accepted by ``PUT /v1/tiers``.
- ``TIER#<member> / STANDING`` — the member's tier, since when, the scheduled warning and
  downgrade, and a short history. While a review is scheduled it carries the sparse keys-only
  GSI ``due`` keys (``DUE#<yyyy-mm-dd>#<shard>``, member): the daily review reads the days due,
  never scans.
- Leaderboard items (scores with the keys-only ``ranking`` index, bucket counts, display
  names, applied-message markers with a TTL): see :mod:`chalicelib.leaderboard.store`.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import KeysOnlyProjection

from chalicelib.store.base import PunchcardModel, TableMeta, index

DUE_SHARDS = 8

DueIndex = index("due", 1, KeysOnlyProjection)
RankingIndex = index("ranking", 2, KeysOnlyProjection)


class StandingsTable(PunchcardModel):
    class Meta(TableMeta):
        logical_name = "standings"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    due = DueIndex()
    ranking = RankingIndex()


class ProgramItem(StandingsTable):
    definition = JSONAttribute()
    updated_at = UTCDateTimeAttribute()
    version = NumberAttribute(default=0)

    @staticmethod
    def key_for() -> tuple[str, str]:
        return "PROGRAM", "TIERS"


class StandingItem(StandingsTable):
    tier = UnicodeAttribute(null=True)
    since = UTCDateTimeAttribute(null=True)
    downgrade_at = UnicodeAttribute(null=True)  # yyyy-mm-dd
    warn_at = UnicodeAttribute(null=True)
    warned_for = UnicodeAttribute(null=True)
    history = JSONAttribute(null=True)
    version = NumberAttribute(default=0)

    @staticmethod
    def key_for(member_id: str) -> tuple[str, str]:
        return f"TIER#{member_id}", "STANDING"

    @property
    def member_id(self) -> str:
        return self.pk.removeprefix("TIER#")
