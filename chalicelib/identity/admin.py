"""The deployment's admin key, kept in Secrets Manager."""

from __future__ import annotations

import hmac

from chalicelib import aws, config
from chalicelib.identity import keys
from chalicelib.identity.principal import Principal, Unauthenticated

CACHE_SECONDS = 300  # a rotated admin key takes effect within this long


def current() -> str:
    # Powertools caches the secret per container; imported here, not at cold start.
    from aws_lambda_powertools.utilities.parameters import get_secret

    return get_secret(config.admin_key_secret(), max_age=CACHE_SECONDS)


def authenticate(token: str) -> Principal:
    if not hmac.compare_digest(token.encode(), current().encode()):
        raise Unauthenticated("wrong admin key")
    return Principal(role="admin")


def ensure(value: str | None = None) -> str:
    """Create the admin key secret if absent (deploy time, local stack); return its value.

    ``value`` restores a known key (the local stack keeps it across restarts of moto).
    """
    client = aws.client("secretsmanager")
    name = config.admin_key_secret()
    try:
        return client.get_secret_value(SecretId=name)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        pass
    key = value or keys.new_admin_key()
    client.create_secret(Name=name, SecretString=key,
                         Description="Punchcard admin API key")
    return key
