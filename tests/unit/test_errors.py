"""The error hierarchy maps to HTTP in one table and always renders one shape."""

import re

import pytest

from chalicelib import errors


class InsufficientPoints(errors.Conflict):
    code = "insufficient_points"


@pytest.mark.parametrize(("error", "status"), [
    (errors.BadRequest(), 400),
    (errors.MalformedJson(), 400),
    (errors.Unauthorized(), 401),
    (errors.Forbidden(), 403),
    (errors.NotFound(), 404),
    (errors.RouteNotFound(), 404),
    (errors.MethodNotAllowed(), 405),
    (errors.Conflict(), 409),
    (errors.PayloadTooLarge(), 413),
    (errors.UnsupportedMediaType(), 415),
    (errors.ValidationFailed(), 422),
    (errors.TooManyRequests(), 429),
    (errors.PunchcardError(), 500),
    (errors.ServiceUnavailable(), 503),
])
def test_each_error_class_has_its_status(error, status):
    assert errors.http_status(error) == status


def test_a_domain_error_inherits_its_parents_status_and_keeps_its_own_code():
    error = InsufficientPoints("Balance 3 < 10", details={"available": 3})

    assert errors.http_status(error) == 409
    assert error.to_body() == {"error": {"code": "insufficient_points", "message": "Balance 3 < 10",
                                         "details": {"available": 3}}}


def test_code_can_be_narrowed_per_raise_without_touching_the_class():
    error = errors.BadRequest("Body required", code="body_required")

    assert error.code == "body_required"
    assert errors.BadRequest().code == "bad_request"


def test_every_code_is_snake_case():
    def all_subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from all_subclasses(sub)

    for cls in [errors.PunchcardError, *all_subclasses(errors.PunchcardError)]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", cls.code), cls
