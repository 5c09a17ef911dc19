"""Member ID tokens (Cognito JWTs) verified against the pool's published keys."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib import config
from chalicelib.identity.principal import Principal, Unauthenticated

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def _jwks_client(url: str):
    import jwt  # PyJWT with cryptography: imported on the first member request only

    with _lock:
        client = _clients.get(url)
        if client is None:
            # Keys are cached for an hour; an unknown ``kid`` triggers one refetch (rotation).
            client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)
            _clients[url] = client
        return client


def verify(token: str) -> dict[str, Any]:
    """The claims of a valid member ID token, else :class:`Unauthenticated`."""
    import jwt

    client = _jwks_client(config.jwks_url())
    try:
        signing_key = client.get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError:
        raise  # the key endpoint is down: a server-side failure, not a bad token
    except jwt.PyJWTError as e:
        raise Unauthenticated(f"member token: {e}") from None
    try:
        claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=config.user_pool_client_id(),
                            issuer=config.token_issuer(), leeway=5,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    except jwt.PyJWTError as e:
        raise Unauthenticated(f"member token: {e}") from None
    if claims.get("token_use") != "id":
        raise Unauthenticated("member token: not an ID token")
    if not claims.get("cognito:username"):
        raise Unauthenticated("member token: no username")
    return claims


def authenticate(token: str) -> Principal:
    return Principal(role="member", member_id=verify(token)["cognito:username"])
