"""Integration tests: Amazon DynamoDB Local (in memory) and moto's server, started once."""

import os
import tempfile
from pathlib import Path

import pytest

from devstack import cognito, environment, processes, provision
from devstack.dynamodb_local import DynamoDBLocal
from devstack.moto_server import MotoServer


@pytest.fixture(scope="session")
def local_aws():
    """Endpoints of a fresh embedded AWS, with this process's environment pointed at it."""
    log_dir = Path(tempfile.mkdtemp(prefix="punchcard-it-"))
    dynamodb = DynamoDBLocal(processes.free_port(), None, log_dir / "dynamodb.log")
    dynamodb.start()
    moto = MotoServer(0)
    moto.start()
    saved = dict(os.environ)
    environment.apply(environment.local_variables(dynamodb.endpoint, moto.endpoint, prefix="punchcard-it"))
    try:
        provisioned = provision.provision_all()
        environment.apply(cognito.provision(moto.endpoint))
        yield {"dynamodb": dynamodb.endpoint, "moto": moto.endpoint, "provisioned": provisioned}
    finally:
        os.environ.clear()
        os.environ.update(saved)
        moto.stop()
        dynamodb.stop()


@pytest.fixture
def sqs(local_aws):
    from chalicelib import aws

    return aws.client("sqs")


@pytest.fixture
def dynamodb(local_aws):
    from chalicelib import aws

    return aws.client("dynamodb")
