"""Resolve an Authorization header to a Principal (the authorizer's whole job)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.brands import service as brands
from chalicelib.identity import admin, keys, tokens
from chalicelib.identity.principal import Principal, Unauthenticated


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization is not 'Bearer <token>'")
    return token.strip()


def authenticate(authorization: str | None, now: datetime | None = None) -> Principal:
    token = bearer_token(authorization)
    now = now or datetime.now(UTC)
    if keys.is_admin_key(token):
        return admin.authenticate(token)
    if token.startswith(keys.BRAND_PREFIX):
        return brands.authenticate(token, now)
    if token.count(".") == 2:
        return tokens.authenticate(token)
    raise Unauthenticated("unrecognised credential")
