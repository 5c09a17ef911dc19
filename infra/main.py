"""The CDK app: ``TENANT=<id> python -m infra.main`` (``make synth TENANT=<id>``) synthesizes that
tenant's stack into ``cdk.out/<tenant>/``."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

from infra.settings import ROOT, InvalidSettings, Tenant, applied, load


def synth(tenant_id: str, outdir: Path | None = None) -> Path:
    return synth_tenant(load(tenant_id), outdir)


def synth_tenant(tenant: Tenant, outdir: Path | None = None) -> Path:
    """Synthesize ``tenant``'s stack into ``outdir`` (default ``cdk.out/<tenant>``); Chalice's
    packaging leaves its work in ``chalice.out/`` beside it."""
    from infra.stack import TenantStack

    outdir = (outdir or ROOT / "cdk.out" / tenant.id).resolve()
    shutil.rmtree(outdir, ignore_errors=True)  # no stale assets from an earlier synth
    outdir.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(outdir.parent), _packaging_environment():
        import aws_cdk as cdk  # after the environment: jsii reads it when it starts

        app = cdk.App(outdir=str(outdir))
        TenantStack(app, tenant)
        app.synth()
    return outdir


WHEELHOUSE = ROOT / ".wheelhouse"


@contextlib.contextmanager
def _packaging_environment():
    """Quiet, offline CDK; Chalice's packaging reads the wheelhouse (``make infra-deps``) and no
    index when there is one."""
    variables = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_DISABLE_CLI_TELEMETRY": "1",
                 "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"}
    if (WHEELHOUSE / ".complete").exists():
        variables.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE)})
    with applied(variables):
        yield


def main() -> int:
    tenant_id = os.environ.get("TENANT", "")
    try:
        outdir = synth(tenant_id, Path(os.environ["CDK_OUTDIR"]) if os.environ.get("CDK_OUTDIR") else None)
    except InvalidSettings as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"synthesized tenant {tenant_id} into {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
