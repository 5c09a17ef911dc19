"""Integration tests: Amazon DynamoDB Local (in memory) and moto's server, started once."""

import os
import tempfile
from datetime import UTC, datetime
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
        from chalicelib.brands import service as brands

        brands.create_brand("Integration", datetime.now(UTC))  # as any tenant: a brand (and roster) before events
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


class Tap:
    """A queue that receives every domain event published on the bus (its own rule, as a
    consumer's): what producers published, as the consumers' queues receive it."""

    def __init__(self, sqs, url: str) -> None:
        self.sqs, self.url = sqs, url

    def drain(self, keep=lambda detail: True) -> list[dict]:
        """Take every event waiting off the tap; returns those (their ``detail``) ``keep`` accepts."""
        import json

        found = []
        while True:
            reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not reply.get("Messages"):
                return found
            for message in reply["Messages"]:
                detail = json.loads(message["Body"])["detail"]
                if keep(detail):
                    found.append(detail)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="session")
def bus_tap(local_aws):
    import json

    from chalicelib import aws, config, resources

    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName=f"{config.prefix()}-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"{config.prefix()}-tap", EventBusName=resources.DOMAIN_BUS.name,
                    EventPattern=json.dumps({"source": [resources.DOMAIN_BUS.source]}))
    events.put_targets(Rule=f"{config.prefix()}-tap", EventBusName=resources.DOMAIN_BUS.name,
                       Targets=[{"Id": "tap", "Arn": arn}])
    return Tap(sqs, url)
