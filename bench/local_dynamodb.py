"""A throwaway DynamoDB Local (in memory) with every table provisioned, for benchmarks."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def dynamodb_local() -> Iterator[str]:
    """Start DynamoDB Local, point this process at it, create the tables; yield its endpoint."""
    from devstack import environment, processes, provision
    from devstack.dynamodb_local import DynamoDBLocal

    log_dir = Path(tempfile.mkdtemp(prefix="punchcard-bench-"))
    dynamodb = DynamoDBLocal(processes.free_port(), None, log_dir / "dynamodb.log")
    dynamodb.start()
    try:
        environment.apply(environment.local_variables(dynamodb.endpoint, "http://127.0.0.1:9", prefix="bench"))
        provision.create_tables()
        yield dynamodb.endpoint
    finally:
        dynamodb.stop()
