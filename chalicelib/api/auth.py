"""The API's authorizer and the caller of the current request.

One Chalice (Lambda TOKEN) authorizer resolves every credential — admin key, brand key, member
ID token — to a Principal. It allows the credential on every route (so API Gateway's cache,
60 s, serves all routes); each route then checks the caller's role (403 ``forbidden``) and
views check ownership (another brand's or member's resource is 404 ``not_found``, so ids of
others are never confirmed). A missing or bad credential is 401 ``unauthorized``.
"""

from __future__ import annotations

from chalice import AuthResponse, Blueprint

from chalicelib import errors
from chalicelib.identity import service
from chalicelib.identity.principal import Principal, Unauthenticated
from chalicelib.observability import logger

bp = Blueprint(__name__)

AUTHORIZER_CACHE_SECONDS = 60  # a revoked key or expired token stops working within this long


@bp.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS)
def punchcard_auth(auth_request):
    try:
        principal = service.authenticate(auth_request.token)
    except Unauthenticated as e:
        logger.info("authentication refused", extra={"reason": e.reason})
        raise
    return AuthResponse(routes=["*"], principal_id=principal.principal_id, context=principal.to_context())


def caller(request) -> Principal:
    """The authenticated caller of ``request`` (routes with roles only)."""
    context = (request.context or {}).get("authorizer") or {}
    try:
        return Principal.from_context(context)
    except Unauthenticated:
        raise errors.Unauthorized() from None


def require_role(principal: Principal, roles: tuple[str, ...]) -> None:
    if principal.role not in roles:
        raise errors.Forbidden(f"This endpoint is for {' or '.join(roles)} credentials.",
                               details={"allowed_roles": list(roles), "role": principal.role})
