"""Brands and API keys in DynamoDB (the ``identity`` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import config, errors
from chalicelib.store.base import connection
from chalicelib.store.identity import ApiKeyItem, BrandItem, RosterItem
from chalicelib.store.writes import ATTEMPTS, backoff, refuse_if_permanent


class Roster(NamedTuple):
    """The program's brands, and the first of them."""

    first: str
    brand_ids: frozenset[str]

    def only(self, brand_id: str) -> bool:
        """``brand_id`` is the program's only brand."""
        return self.brand_ids == {brand_id}


def _transaction() -> TransactWrite:
    return TransactWrite(connection=connection())


def create_brand(brand_id: str, name: str, key: ApiKeyItem, now: datetime) -> tuple[BrandItem, Roster]:
    """The brand, its first key and its place in the roster in one transaction (none exists
    without the others). Returns the brand and the roster as it was before."""
    brand = BrandItem(*BrandItem.key_for(brand_id), name=name, created_at=now, key_ids={key.key_id})
    for attempt in range(ATTEMPTS):
        before = _stored_roster()
        try:
            with _transaction() as tx:
                tx.save(brand, condition=BrandItem.pk.does_not_exist())
                tx.save(key, condition=ApiKeyItem.pk.does_not_exist())
                if before is None:  # the first brand, or the first since rosters: from the brands there are
                    found = _scanned()
                    tx.save(_roster_item(found.first if found else brand_id,
                                         (found.brand_ids if found else frozenset()) | {brand_id}),
                            condition=RosterItem.pk.does_not_exist())
                else:
                    tx.update(RosterItem(*RosterItem.key_for()), actions=[RosterItem.brand_ids.add({brand_id})],
                              condition=RosterItem.pk.exists())
        except TransactWriteError as e:
            refuse_if_permanent(e)
            backoff(attempt)  # the roster was written meanwhile (or a conflict): read it again
            continue
        return brand, before or Roster(brand_id, frozenset())
    raise errors.Conflict("Brands are being created too fast; retry.", code="concurrent_change")


# -- the roster ---------------------------------------------------------------------------------

def _roster_item(first: str, brand_ids: frozenset[str]) -> RosterItem:
    return RosterItem(*RosterItem.key_for(), first=first, brand_ids=set(brand_ids))


def _from_item(item: RosterItem) -> Roster:
    return Roster(item.first, frozenset(item.brand_ids or ()))


def _stored_roster() -> Roster | None:
    try:
        return _from_item(RosterItem.get(*RosterItem.key_for(), consistent_read=True))
    except DoesNotExist:
        return None


def _scanned() -> Roster | None:
    """The roster from the brand items themselves (the table holds brands and keys: small)."""
    brands = sorted(BrandItem.scan(BrandItem.sk == "BRAND"), key=lambda b: (b.created_at, b.brand_id))
    return Roster(brands[0].brand_id, frozenset(b.brand_id for b in brands)) if brands else None


def roster() -> Roster | None:
    """The program's brands as they are now (None: no brand yet). A tenant from before rosters
    gets one, built from its brands, on the first call."""
    stored = _stored_roster()
    if stored is not None:
        return stored
    found = _scanned()
    if found is None:
        return None
    try:
        _roster_item(found.first, found.brand_ids).save(condition=RosterItem.pk.does_not_exist())
    except PutError as e:
        if e.cause_response_code != "ConditionalCheckFailedException":
            raise
        return _stored_roster()  # a brand's creation wrote it meanwhile
    return found


def roster_key() -> tuple[str, dict[str, Any]]:
    """(table, key) of the roster, for a reader that batches it with its own items."""
    pk, sk = RosterItem.key_for()
    return config.table_name("identity"), {"pk": {"S": pk}, "sk": {"S": sk}}


def roster_from_raw(raw: dict[str, Any]) -> Roster:
    return _from_item(RosterItem.from_raw_data(raw))


def get_brand(brand_id: str) -> BrandItem:
    try:
        return BrandItem.get(*BrandItem.key_for(brand_id), consistent_read=True)
    except DoesNotExist:
        raise errors.NotFound("No such brand.", details={"brand_id": brand_id}) from None


def get_key(key_id: str, consistent: bool = False) -> ApiKeyItem | None:
    try:
        return ApiKeyItem.get(*ApiKeyItem.key_for(key_id), consistent_read=consistent)
    except DoesNotExist:
        return None


def keys_of(brand: BrandItem) -> list[ApiKeyItem]:
    if not brand.key_ids:
        return []
    found = ApiKeyItem.batch_get([ApiKeyItem.key_for(k) for k in brand.key_ids])
    return sorted(found, key=lambda k: k.created_at)


def add_key(brand: BrandItem, key: ApiKeyItem, retire: list[tuple[ApiKeyItem, datetime]]) -> None:
    """Store a new key for ``brand`` and set the expiry of the keys it replaces, atomically."""
    try:
        with _transaction() as tx:
            tx.save(key, condition=ApiKeyItem.pk.does_not_exist())
            tx.update(brand, actions=[BrandItem.key_ids.add({key.key_id})],
                      condition=BrandItem.pk.exists())
            for old, expires_at in retire:
                tx.update(old, actions=[ApiKeyItem.expires_at.set(expires_at)],
                          condition=ApiKeyItem.revoked_at.does_not_exist())
    except TransactWriteError as e:
        raise errors.Conflict("The brand's keys changed meanwhile; retry.", code="concurrent_change") from e


def revoke(key: ApiKeyItem, now: datetime) -> ApiKeyItem:
    key.update(actions=[ApiKeyItem.revoked_at.set(now)], condition=ApiKeyItem.pk.exists())
    return key
