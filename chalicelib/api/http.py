"""What every route shares: the route decorator, JSON parsing, and the error reply.

Chalice turns any exception a view raises into its own 500 before middleware sees it, so the
mapping of :class:`~chalicelib.errors.PunchcardError` to a reply happens here, around each
view, and :func:`conform_error` reshapes the errors Chalice itself produces (415, 405...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import config, errors
from chalicelib.api import strict_json
from chalicelib.api.auth import caller, punchcard_auth, require_role
from chalicelib.api.validation import check_path
from chalicelib.observability import logger

JSON = "application/json"

# (HTTP method, resource path) -> largest body it accepts, for routes that differ from the
# default (a voucher-code upload, say).
_body_limits: dict[tuple[str, str], int] = {}

# Chalice's own error codes (the ``Code`` of its error bodies) to ours.
_CHALICE_CODES: dict[str, type[errors.PunchcardError]] = {
    "BadRequestError": errors.BadRequest,
    "BadRequest": errors.BadRequest,
    "UnauthorizedError": errors.Unauthorized,
    "ForbiddenError": errors.Forbidden,
    "NotFoundError": errors.NotFound,
    "MethodNotAllowedError": errors.MethodNotAllowed,
    "ConflictError": errors.Conflict,
    "UnprocessableEntityError": errors.ValidationFailed,
    "TooManyRequestsError": errors.TooManyRequests,
    "UnsupportedMediaType": errors.UnsupportedMediaType,
    "RequestTimeoutError": errors.ServiceUnavailable,
    "InternalServerError": errors.PunchcardError,
}


def error_response(error: errors.PunchcardError, headers: dict[str, str] | None = None) -> Response:
    return Response(body=error.to_body(), status_code=errors.http_status(error),
                    headers={"Content-Type": JSON, **(headers or {})})


def route(bp, path: str, *, methods: tuple[str, ...] = ("GET",), roles: tuple[str, ...] = (),
          max_body_bytes: int | None = None, **kwargs: Any) -> Callable:
    """Register a view on ``bp`` with Punchcard's error mapping around it.

    With ``roles`` the route needs a credential (the authorizer runs first) of one of those
    roles, and the view receives the caller as its ``principal`` argument.
    """
    if roles:
        kwargs["authorizer"] = punchcard_auth

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(**params: Any) -> Any:
            try:
                if roles:
                    principal = caller(bp.current_request)
                    require_role(principal, roles)
                if params:
                    check_path(path, params)
                if roles:
                    params["principal"] = principal
                return view(**params)
            except errors.PunchcardError as e:
                if errors.http_status(e) >= 500:
                    logger.exception("request failed", extra={"error_code": e.code})
                return error_response(e)
            except Exception:
                logger.exception("unhandled error")
                return error_response(errors.PunchcardError())

        guarded.__wrapped_roles__ = roles  # read by the isolation matrix test
        if max_body_bytes is not None:
            for method in methods:
                _body_limits[(method, path)] = max_body_bytes
        return bp.route(path, methods=list(methods), **kwargs)(guarded)

    return decorate


def body_limit(method: str, resource_path: str | None) -> int:
    return _body_limits.get((method, resource_path or ""), config.max_body_bytes())


def json_body(request) -> dict[str, Any]:
    """The request body as a JSON object, or a typed error saying what is wrong with it."""
    raw = request.raw_body
    if not raw:
        raise errors.BadRequest("A JSON body is required.", code="body_required")
    try:
        data = strict_json.loads(raw)
    except UnicodeDecodeError as e:
        raise errors.MalformedJson("The request body is not UTF-8.", details={"position": e.start}) from e
    except strict_json.Refused as e:
        raise errors.BadRequest(f"{e.pointer or 'body'}: {e.message}.", code=e.code,
                                details={"pointer": e.pointer}) from None
    except ValueError as e:
        raise errors.MalformedJson(details={"position": getattr(e, "pos", None),
                                            "reason": getattr(e, "msg", str(e))}) from e
    if not isinstance(data, dict):
        raise errors.ValidationFailed("The body must be a JSON object.",
                                      details={"pointer": "", "type": type(data).__name__})
    return data


def conform_error(response: Response) -> Response:
    """Give an error that Chalice produced itself the documented error shape."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or "error" in body:
        return response
    error_class = _CHALICE_CODES.get(str(body.get("Code")), errors.PunchcardError)
    error = error_class(str(body.get("Message") or error_class.message))
    if error_class is errors.PunchcardError:
        error = errors.PunchcardError()  # never leak an internal message
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    reply = error_response(error, headers)
    reply.status_code = response.status_code
    return reply


def guard_requests(request, get_response: Callable) -> Response:
    """HTTP middleware, outermost of ours: body limit, then the error shape for everything.

    Chalice wraps all middleware in its own catch-all that answers in its own shape, so this
    one catches what inner middleware raises before Chalice can.
    """
    limit = body_limit(request.method, request.context.get("resourcePath"))
    size = len(request.raw_body or b"")
    if size > limit:
        return error_response(errors.PayloadTooLarge(details={"limit_bytes": limit, "size_bytes": size}))
    try:
        response = get_response(request)
    except Exception:
        logger.exception("unhandled error in middleware")
        return error_response(errors.PunchcardError())
    if not any(name.lower() == "content-type" for name in response.headers) and response.body is not None:
        # Chalice serialises dict bodies as JSON but leaves the header to API Gateway's default.
        response.headers["Content-Type"] = JSON
    return conform_error(response)


def query(request, *allowed: str) -> dict[str, str]:
    """The request's query parameters, refusing any the route does not document (a typo such
    as ``?chanel=`` would otherwise be silently ignored)."""
    params = dict(request.query_params or {})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise errors.BadRequest(f"Unknown query parameter: {unknown[0]!r}.", code="unknown_parameter",
                                details={"parameter": unknown[0], "allowed": list(allowed)})
    return params
