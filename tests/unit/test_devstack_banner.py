"""The startup banner says that the secrets it prints are local demo credentials."""

from devstack.stack import LocalStack, Options


class Endpoint:
    endpoint = "http://127.0.0.1:1"


def test_the_banner_labels_its_secrets_as_local_demo_credentials(tmp_path):
    stack = LocalStack(Options(state_dir=tmp_path), dynamodb=Endpoint(), moto=Endpoint())
    stack.credentials = {"admin_key": "pc_admin_x", "brand_key": "pc_brand_y",
                         "member": {"email": "m@example.com", "password": "pw-1"}}

    lines = stack.banner().splitlines()

    label = next(i for i, line in enumerate(lines) if "LOCAL DEMO CREDENTIALS" in line)
    assert "this machine only" in lines[label]
    secrets = [i for i, line in enumerate(lines) if any(s in line for s in ("pc_admin_x", "pc_brand_y", "pw-1"))]
    assert len(secrets) == 3
    assert min(secrets) > label
