"""The typed error hierarchy and its one mapping to HTTP.

Domain code raises these (or subclasses: ``InsufficientPoints(Conflict)``...) without knowing
HTTP; :func:`http_status` is the single table that turns a class into a status code. Every
error carries a stable machine ``code``; clients switch on it, never on the message.
"""

from __future__ import annotations

from typing import Any


class PunchcardError(Exception):
    """Base of every error the API reports to a client."""

    code = "internal_error"
    message = "An internal error occurred."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None,
                 code: str | None = None) -> None:
        self.message = message or self.message
        self.details = details or {}
        if code:
            self.code = code
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(PunchcardError):
    code = "bad_request"
    message = "The request is not valid."


class MalformedJson(BadRequest):
    code = "malformed_json"
    message = "The request body is not valid JSON."


class ValidationFailed(PunchcardError):
    code = "validation_failed"
    message = "The request does not match the schema."


class Unauthorized(PunchcardError):
    code = "unauthorized"
    message = "Authentication is required."


class Forbidden(PunchcardError):
    code = "forbidden"
    message = "This credential may not do that."


class NotFound(PunchcardError):
    code = "not_found"
    message = "No such resource."


class RouteNotFound(NotFound):
    code = "route_not_found"
    message = "No such endpoint."


class MethodNotAllowed(PunchcardError):
    code = "method_not_allowed"
    message = "This endpoint does not support that method."


class Conflict(PunchcardError):
    code = "conflict"
    message = "The request conflicts with the current state."


class PayloadTooLarge(PunchcardError):
    code = "payload_too_large"
    message = "The request body is too large."


class UriTooLong(PunchcardError):
    code = "uri_too_long"
    message = "The request line is too long."


class RequestHeadersTooLarge(PunchcardError):
    code = "request_headers_too_large"
    message = "The request headers are too large."


class UnsupportedMediaType(PunchcardError):
    code = "unsupported_media_type"
    message = "The request content type is not supported."


class NotAcceptable(PunchcardError):
    code = "not_acceptable"
    message = "The response cannot be produced in an accepted content type."


class TooManyRequests(PunchcardError):
    code = "too_many_requests"
    message = "Too many requests; retry later."
    retryable = True


class ServiceUnavailable(PunchcardError):
    code = "service_unavailable"
    message = "A dependency is unavailable; retry later."


# The one table from error class to HTTP status. Subclasses inherit their parent's status,
# so a new domain error only picks the right parent.
_HTTP_STATUS: dict[type[PunchcardError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    NotAcceptable: 406,
    Conflict: 409,
    PayloadTooLarge: 413,
    UriTooLong: 414,
    UnsupportedMediaType: 415,
    ValidationFailed: 422,
    TooManyRequests: 429,
    RequestHeadersTooLarge: 431,
    PunchcardError: 500,
    ServiceUnavailable: 503,
}


def http_status(error: PunchcardError) -> int:
    """HTTP status for an error: the nearest class in its MRO that has an entry."""
    for cls in type(error).__mro__:
        status = _HTTP_STATUS.get(cls)
        if status is not None:
            return status
    return 500


def is_permanent(error: BaseException) -> bool:
    """Whether a failure would recur on every retry of the same message: a client-class error of
    ours that does not say it is retryable, arithmetic on the data, or a write DynamoDB refuses
    as invalid. Anything else (throttling, contention, an outage, a bug awaiting its fix) is
    retried, and ends visibly failed in the dead-letter queue, from where it can be redriven."""
    if isinstance(error, PunchcardError):
        return http_status(error) < 500 and not getattr(error, "retryable", False)
    if isinstance(error, ArithmeticError):
        return True
    return getattr(error, "cause_response_code", None) == "ValidationException"
