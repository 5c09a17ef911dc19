"""Tenant settings: the example is valid; mistakes are refused with the field named."""

from __future__ import annotations

import copy

import pytest

from infra.settings import InvalidSettings, load, parse
from tests.infra.conftest import example_settings


def test_the_example_tenant_loads_and_names_everything_after_itself():
    tenant = load("example")
    assert (tenant.id, tenant.prefix, tenant.region, tenant.production) == \
        ("example", "punchcard-example", "eu-west-1", True)
    env = tenant.lambda_environment()
    assert env["PUNCHCARD_QUEUE_EVENTS_DLQ"] == "punchcard-example-events-dlq"
    assert env["PUNCHCARD_ADMIN_KEY_SECRET"] == "punchcard-example/admin-key"
    assert env["PUNCHCARD_SOCIAL_X_SECRET"] == "punchcard-example/social/x"
    assert all(v.startswith("punchcard-example") for k, v in env.items()
               if k.startswith(("PUNCHCARD_TABLE_", "PUNCHCARD_QUEUE_", "PUNCHCARD_BUCKET_")))


def changed(**fields) -> dict:
    data = copy.deepcopy(example_settings())
    for path, value in fields.items():
        target = data
        *parents, last = path.split("__")
        for parent in parents:
            target = target[parent]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return data


@pytest.mark.parametrize(("fields", "named"), [
    ({"tenant": "Bad_Id"}, "settings.tenant"),
    ({"region": "europe"}, "settings.region"),
    ({"colour": "blue"}, "settings"),
    ({"environment": "prod"}, "settings.environment"),
    ({"alarm_email": KeyError}, "alarm_email"),
    ({"program__timezone": "Mars/Olympus"}, "settings.program.timezone"),
    ({"mail__sender": "rewards@elsewhere.com"}, "settings.mail.sender"),
    ({"tiers__tiers": [{"id": "gold", "name": "Gold", "threshold": -1}]}, "settings.tiers"),
    ({"web__domain": "rewards.example.com"}, "settings.web"),
    ({"expiry__points_expire_after": "12 months"}, "settings.expiry.points_expire_after"),
    ({"log_retention_days": 31}, "settings.log_retention_days"),
])
def test_a_mistake_is_refused_naming_the_field(fields, named):
    with pytest.raises(InvalidSettings) as refused:
        parse(changed(**fields))
    assert named in str(refused.value)


def test_a_missing_or_misnamed_tenant_file_is_explained(tmp_path, monkeypatch):
    with pytest.raises(InvalidSettings, match="make tenant"):
        load("nobody")
    with pytest.raises(InvalidSettings, match="not a tenant id"):
        load("../etc")
