"""First-invocation cost in a Lambda-like environment, tracing on and off.

Complements bench/importtime.py: a cold start is import + the first invocation, and the
X-Ray SDK (when tracing is on) is loaded at the first invocation, not at import. Each sample
is a fresh interpreter. Usage: ``.venv/bin/python bench/coldstart.py [runs]``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, time
t0 = time.perf_counter()
import app
t1 = time.perf_counter()
from devstack.lambda_runtime import LambdaContext
event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {"Accept": "*/*"},
         "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "requestId": "r1",
                            "path": "/api/health", "stage": "api", "identity": {"sourceIp": "127.0.0.1"}}}
t2 = time.perf_counter()
reply = app.app(event, LambdaContext("api_handler"))
t3 = time.perf_counter()
assert reply["statusCode"] == 200, reply
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_invocation_ms": (t3 - t2) * 1000}))
"""


def sample(tracing: bool) -> dict:
    env = {**os.environ, "LAMBDA_TASK_ROOT": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": "api_handler",
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
           "POWERTOOLS_METRICS_NAMESPACE": "Punchcard", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
           "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    for tracing in (False, True):
        sample(tracing)
        samples = [sample(tracing) for _ in range(runs)]
        imp = statistics.median(s["import_ms"] for s in samples)
        first = statistics.median(s["first_invocation_ms"] for s in samples)
        print(f"tracing {'on ' if tracing else 'off'}  import app {imp:7.1f} ms   first GET /health {first:7.1f} ms"
              f"   total {imp + first:7.1f} ms   (median of {runs})")


if __name__ == "__main__":
    main()
