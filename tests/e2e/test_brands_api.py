"""Brand onboarding and key lifecycle over HTTP on the local stack."""

import pytest
import requests

pytestmark = pytest.mark.slow


def call(stack, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, stack.credentials["api"] + path, headers=headers, timeout=10, **kwargs)


def test_the_stack_seeds_an_admin_key_and_a_demo_brand_key(stack):
    credentials = stack.credentials

    assert credentials["admin_key"].startswith("pca_")
    response = call(stack, "GET", f"/v1/brands/{credentials['brand_id']}", credentials["brand_key"])
    assert response.status_code == 200
    assert response.json()["name"] == "Demo Coffee"


def test_only_the_admin_onboards_brands(stack):
    assert call(stack, "POST", "/v1/brands", json={"name": "X"}).status_code == 401
    assert call(stack, "POST", "/v1/brands", "pca_wrong", json={"name": "X"}).status_code == 401
    forbidden = call(stack, "POST", "/v1/brands", stack.credentials["brand_key"], json={"name": "X"})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("body", "pointer"), [
    ({"name": ""}, "/name"),
    ({"name": "   "}, "/name"),
    ({"name": "Acme", "colour": "red"}, ""),
    ({}, ""),
    ({"name": 7}, "/name"),
])
def test_bad_brand_bodies_are_refused_with_the_field(stack, body, pointer):
    response = call(stack, "POST", "/v1/brands", stack.credentials["admin_key"], json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"]["pointer"] == pointer


def test_unknown_fields_are_named(stack):
    response = call(stack, "POST", "/v1/brands", stack.credentials["admin_key"], json={"name": "A", "colour": 1})

    assert response.json()["error"]["details"]["unknown_fields"] == ["colour"]


def test_onboard_rotate_and_revoke(stack):
    admin = stack.credentials["admin_key"]
    created = call(stack, "POST", "/v1/brands", admin, json={"name": "Acme Bank"})
    assert created.status_code == 201
    brand = created.json()
    first_key = brand["api_key"]
    assert brand["key"]["prefix"] in first_key

    rotated = call(stack, "POST", f"/v1/brands/{brand['id']}/keys", admin)
    assert rotated.status_code == 201
    second_key = rotated.json()["api_key"]

    for key in (first_key, second_key):  # the old key works during its grace period
        assert call(stack, "GET", f"/v1/brands/{brand['id']}", key).status_code == 200
    listed = call(stack, "GET", f"/v1/brands/{brand['id']}", admin).json()["keys"]
    assert [k["status"] for k in listed] == ["expiring", "active"]

    revoked = call(stack, "DELETE", f"/v1/brands/{brand['id']}/keys/{brand['key']['id']}", admin)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert call(stack, "GET", f"/v1/brands/{brand['id']}", first_key).status_code == 401
    assert call(stack, "GET", f"/v1/brands/{brand['id']}", second_key).status_code == 200


def test_a_brand_key_cannot_see_another_brand(stack):
    other = call(stack, "POST", "/v1/brands", stack.credentials["admin_key"], json={"name": "Other"}).json()

    response = call(stack, "GET", f"/v1/brands/{other['id']}", stack.credentials["brand_key"])

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
