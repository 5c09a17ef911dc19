"""Settings, read from the environment at call time.

The one module that reads ``os.environ`` for application settings. `.chalice/config.json` sets
these per stage in the cloud; the local stack (devstack) sets them on a laptop. Resource names
are never literals elsewhere: ask :func:`table_name`, :func:`queue_name` or :func:`bucket_name`.
"""

from __future__ import annotations

import os

APP_NAME = "punchcard"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def _env_key(kind: str, logical: str) -> str:
    return f"PUNCHCARD_{kind}_{logical.upper().replace('-', '_')}"


def _name(kind: str, logical: str) -> str:
    # Explicit per-resource variables win; otherwise derive from the prefix so a test or a
    # script with only PUNCHCARD_PREFIX set still gets distinct, predictable names.
    explicit = os.environ.get(_env_key(kind, logical))
    if explicit:
        return explicit
    return f"{prefix()}-{logical}"


def prefix() -> str:
    """Prefix of every resource name in this deployment (tenant and stage)."""
    return os.environ.get("PUNCHCARD_PREFIX", APP_NAME)


def stage() -> str:
    return os.environ.get("PUNCHCARD_STAGE", "dev")


def table_name(logical: str) -> str:
    """Physical DynamoDB table name for a logical table (``system``, ``ledger``...)."""
    return _name("TABLE", logical)


def queue_name(logical: str) -> str:
    """Physical SQS queue name for a logical queue (``jobs``, ``jobs-dlq``...)."""
    return _name("QUEUE", logical)


def bucket_name(logical: str) -> str:
    return _name("BUCKET", logical)


def bus_name(logical: str) -> str:
    """Physical EventBridge bus name for a logical bus (``domain``)."""
    return _name("BUS", logical)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def mail_from() -> str:
    """The SES identity mail is sent from."""
    return os.environ.get("PUNCHCARD_MAIL_FROM", "no-reply@punchcard.local")


def max_body_bytes() -> int:
    """Largest request body the API accepts (API Gateway's own cap is 10 MB)."""
    return int(os.environ.get("PUNCHCARD_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def service_name() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME", APP_NAME)


def metrics_namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Punchcard")


def tracing_enabled() -> bool:
    """X-Ray tracing: on in Lambda unless POWERTOOLS_TRACE_DISABLED says otherwise."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes")
    return not disabled and bool(os.environ.get("LAMBDA_TASK_ROOT"))


def admin_key_secret() -> str:
    """Secrets Manager secret holding the deployment's admin key."""
    return os.environ.get("PUNCHCARD_ADMIN_KEY_SECRET", f"{prefix()}/admin-key")


def key_rotation_grace_seconds() -> int:
    """How long a brand's previous keys keep working after a rotation (default 24 h)."""
    return int(os.environ.get("PUNCHCARD_KEY_ROTATION_GRACE_SECONDS", 24 * 3600))


def user_pool_id() -> str:
    return os.environ.get("PUNCHCARD_USER_POOL_ID", "")


def user_pool_client_id() -> str:
    return os.environ.get("PUNCHCARD_USER_POOL_CLIENT_ID", "")


def token_issuer() -> str:
    """Expected ``iss`` of member ID tokens (Cognito's issuer URL for the pool)."""
    return os.environ.get("PUNCHCARD_TOKEN_ISSUER") or \
        f"https://cognito-idp.{region()}.amazonaws.com/{user_pool_id()}"


def jwks_url() -> str:
    """Where the pool's signing keys are published; configurable for local Cognito."""
    return os.environ.get("PUNCHCARD_JWKS_URL") or f"{token_issuer()}/.well-known/jwks.json"


def require_email_verification() -> bool:
    """Members confirm their e-mail with a code before logging in (on unless switched off)."""
    return os.environ.get("PUNCHCARD_REQUIRE_EMAIL_VERIFICATION", "true").lower() not in ("0", "false", "no")


def debug() -> bool:
    return os.environ.get("PUNCHCARD_DEBUG", "").lower() in ("1", "true", "yes")


def points_expire_after() -> str | None:
    """The program's default lot expiry (ISO 8601 duration, e.g. ``P12M``); ``never`` for none."""
    value = os.environ.get("PUNCHCARD_POINTS_EXPIRE_AFTER", "P12M").strip()
    return None if value.lower() in ("", "never", "none") else value


def program_timezone() -> str:
    """The timezone of the program's days and weeks (event counters, streaks); IANA name."""
    return os.environ.get("PUNCHCARD_TIMEZONE") or "UTC"


def redemption_cancel_days() -> int:
    """How many days after a redemption its brand may cancel it (and return the points)."""
    return int(os.environ.get("PUNCHCARD_REDEMPTION_CANCEL_DAYS") or 30)


MAX_SAFE_POINTS = 2**53 - 1  # the largest integer JSON clients and DynamoDB's numbers both hold exactly


def _points(variable: str, default: int) -> int:
    value = int(os.environ.get(variable) or default)
    if not 1 <= value <= MAX_SAFE_POINTS:
        raise ValueError(f"{variable} must be between 1 and {MAX_SAFE_POINTS}")
    return value


def max_points_per_grant() -> int:
    """Most points one activity may pay for one event when the activity sets no ``max_points``
    of its own; an event whose grant would exceed it is rejected (``points_over_maximum``)."""
    return _points("PUNCHCARD_MAX_POINTS_PER_GRANT", 1_000_000)


def max_points_per_event() -> int:
    """Most points all the activities an event matches may pay together."""
    return _points("PUNCHCARD_MAX_POINTS_PER_EVENT", 5_000_000)


def max_points_per_adjustment() -> int:
    """Largest manual adjustment, either way (the API refuses more with 422)."""
    return _points("PUNCHCARD_MAX_POINTS_PER_ADJUSTMENT", 1_000_000)
