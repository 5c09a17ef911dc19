"""Cognito on moto: the members' user pool, and its users kept across restarts.

moto keeps Cognito in memory. Pool and client ids are made deterministic (moto's HASH id
strategy, set before moto starts), and moto signs tokens with a fixed key, so tokens issued
before a restart stay valid after it. Users are written as they change (:mod:`devstack.durable`)
and re-created on start with the same usernames (member ids), attributes, passwords and status.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chalicelib import aws
from chalicelib.resources import USER_POOL
from devstack.environment import ACCOUNT_ID, REGION

ID_STRATEGY = {"MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH",
               "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY": "HASH"}


def use_stable_ids() -> None:
    os.environ.update(ID_STRATEGY)


def provision(moto_endpoint: str) -> dict[str, str]:
    """Create the pool and client (idempotent); returns the variables the app needs."""
    client = aws.client("cognito-idp")
    pools = [p for p in client.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == USER_POOL.name]
    if pools:
        pool_id = pools[0]["Id"]
    else:
        pool_id = client.create_user_pool(
            PoolName=USER_POOL.name, AutoVerifiedAttributes=["email"],
            Policies={"PasswordPolicy": USER_POOL.password_policy()},
            UsernameConfiguration={"CaseSensitive": False})["UserPool"]["Id"]
    clients = client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    if clients:
        client_id = clients[0]["ClientId"]
    else:
        client_id = client.create_user_pool_client(
            UserPoolId=pool_id, ClientName="web", GenerateSecret=False,
            ExplicitAuthFlows=list(USER_POOL.auth_flows))["UserPoolClient"]["ClientId"]
    return {
        "PUNCHCARD_USER_POOL_ID": pool_id,
        "PUNCHCARD_USER_POOL_CLIENT_ID": client_id,
        "PUNCHCARD_JWKS_URL": f"{moto_endpoint}/{pool_id}/.well-known/jwks.json",
        "PUNCHCARD_TOKEN_ISSUER": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        "PUNCHCARD_REQUIRE_EMAIL_VERIFICATION": "false",  # the local demo tenant (see DESIGN)
    }


def _pool(pool_id: str):
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends[ACCOUNT_ID][REGION].user_pools[pool_id]


def save(path: Path, pool_id: str) -> int:
    users = []
    for username, user in list(_pool(pool_id).users.items()):
        users.append({"username": username, "password": user.password, "status": user.status,
                      "enabled": user.enabled,
                      "attributes": [a for a in user.attributes if a["Name"] != "sub"]})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(users))
    tmp.replace(path)
    return len(users)


def restore(path: Path, pool_id: str) -> int:
    if not path.exists():
        return 0
    client = aws.client("cognito-idp")
    users: list[dict[str, Any]] = json.loads(path.read_text())
    for user in users:
        client.admin_create_user(UserPoolId=pool_id, Username=user["username"], MessageAction="SUPPRESS",
                                 UserAttributes=user["attributes"])
        if user["password"]:
            client.admin_set_user_password(UserPoolId=pool_id, Username=user["username"],
                                           Password=user["password"], Permanent=True)
        restored = _pool(pool_id).users[user["username"]]
        restored.status = user["status"]  # keep UNCONFIRMED sign-ups unconfirmed
        if not user["enabled"]:
            client.admin_disable_user(UserPoolId=pool_id, Username=user["username"])
    return len(users)
