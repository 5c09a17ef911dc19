"""Helpers for driving the local stack's API in end-to-end tests."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from pathlib import Path

import requests


def call(stack, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, stack.credentials["api"] + path, headers=headers, timeout=15, **kwargs)


def new_brand(stack, name: str) -> dict:
    """A brand created by the admin: ``{id, name, api_key, ...}``."""
    created = call(stack, "POST", "/v1/brands", stack.credentials["admin_key"], json={"name": name})
    assert created.status_code == 201, created.text
    return created.json()


def new_email() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}@example.com"


def sign_up_and_log_in(stack, email=None, password="e2e-password-1") -> dict:
    email = email or new_email()
    signed = call(stack, "POST", "/v1/auth/signup", json={"email": email, "password": password})
    assert signed.status_code == 201, signed.text
    tokens = call(stack, "POST", "/v1/auth/login", json={"email": email, "password": password}).json()
    return {"id": signed.json()["id"], "email": email, "password": password, **tokens}


def join(stack, member: dict, brand: dict) -> None:
    """``member`` (signed up, logged in) joins ``brand`` by their own act, as in the app: the
    brand then sees them (a brand's enrolment of a known e-mail is only an invitation)."""
    joined = call(stack, "PUT", f"/v1/me/enrolments/{brand['id']}", member["id_token"])
    assert joined.status_code in (200, 201), joined.text


def member_of(stack, brand: dict) -> dict:
    """A new member who signed up and joined ``brand``."""
    member = sign_up_and_log_in(stack)
    join(stack, member, brand)
    return member


def forged_token(claims: dict, *, expired: bool = False, key: str = "moto") -> str:
    """A JWT signed with moto's Cognito key (what moto signs real tokens with) or a stranger's."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    now = int(time.time())
    claims = {**claims, "iat": now - 7200, "exp": now - 3600} if expired else dict(claims)
    if key == "moto":
        import moto.cognitoidp

        path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
        signing_key = jwt.PyJWK(json.loads(gzip.decompress(path.read_bytes()))).key
    else:
        signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": "dummy"})


def claims_of(token: str) -> dict:
    import jwt

    return jwt.decode(token, options={"verify_signature": False})
