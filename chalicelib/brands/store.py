"""Brands and API keys in DynamoDB (the ``identity`` table)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import errors
from chalicelib.store.base import connection
from chalicelib.store.identity import ApiKeyItem, BrandItem


def _transaction() -> TransactWrite:
    return TransactWrite(connection=connection())


def create_brand(brand_id: str, name: str, key: ApiKeyItem, now: datetime) -> BrandItem:
    """The brand and its first key in one transaction (neither exists without the other)."""
    brand = BrandItem(*BrandItem.key_for(brand_id), name=name, created_at=now, key_ids={key.key_id})
    with _transaction() as tx:
        tx.save(brand, condition=BrandItem.pk.does_not_exist())
        tx.save(key, condition=ApiKeyItem.pk.does_not_exist())
    return brand


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
