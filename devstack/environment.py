"""The process environment of the local stack: the dev stage's settings plus local endpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


def stage_variables(stage: str = "dev") -> dict[str, str]:
    """The environment Chalice would give a Lambda of ``stage`` (shared, then stage)."""
    config = json.loads(CHALICE_CONFIG.read_text())
    merged = dict(config.get("environment_variables", {}))
    merged.update(config["stages"][stage].get("environment_variables", {}))
    return {k: str(v) for k, v in merged.items()}


def local_variables(dynamodb_endpoint: str, moto_endpoint: str, *, prefix: str = "punchcard-local") -> dict[str, str]:
    """Everything the app needs to run against the embedded AWS instead of the cloud.

    The dev stage's variables are kept (so local runs the code as deployed) except that names
    are re-derived from ``prefix``, and fake credentials guarantee no call reaches real AWS.
    """
    variables = stage_variables("dev")
    stage_prefix = variables.get("PUNCHCARD_PREFIX", "")
    for key, value in list(variables.items()):
        if key.startswith(("PUNCHCARD_TABLE_", "PUNCHCARD_QUEUE_", "PUNCHCARD_BUCKET_", "PUNCHCARD_ADMIN_KEY_SECRET")) \
                and stage_prefix:
            variables[key] = value.replace(stage_prefix, prefix, 1)
    variables.update({
        "PUNCHCARD_STAGE": "local",
        "PUNCHCARD_PREFIX": prefix,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
    })
    variables.pop("AWS_PROFILE", None)
    return variables


def apply(variables: dict[str, str]) -> None:
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(variables)
