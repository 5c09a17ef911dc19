"""Per-tenant infrastructure: an AWS CDK app (Python) that describes one Punchcard stack per
tenant. Never imported by the Lambda code; needs ``requirements-infra.txt``."""
