"""Child processes that die with us, and free ports."""

from __future__ import annotations

import contextlib
import ctypes
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to the child when its parent dies, even by SIGKILL,
    # so a crashed stack never leaves DynamoDB Local running.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: list[str], *, log_path, cwd=None, env: dict[str, str] | None = None) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 (lives as long as the child)
    # Its own session: a terminal's Ctrl-C reaches only us, and we stop children in order
    # (pollers first, then the emulators) instead of racing them.
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, start_new_session=True)


def stop(process: subprocess.Popen | None, timeout: float = 3.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(2)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A free port *below* the kernel's ephemeral range.

    A port the kernel handed out (bind to 0) is an ephemeral one: once a server on it stops,
    any outgoing connection (boto3 to DynamoDB Local, say) may take it as its source port, and
    a restart on the same port then fails with "address in use". Ports below the range are
    never chosen for outgoing connections, so a stack can stop and start again on its ports.
    """
    low, _ = _ephemeral_range()
    candidates = list(range(max(1024, low - 12000), low))
    random.shuffle(candidates)
    for port in candidates[:200]:
        if port in _handed_out:  # not bound yet by whoever asked for it
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    with socket.socket() as s:  # everything below the range is taken: fall back to the kernel
        s.bind((host, 0))
        return s.getsockname()[1]


def ensure_free(host: str, port: int, what: str) -> None:
    """Fail early and clearly when a port is taken (another `make dev` still running?)."""
    with socket.socket() as s:
        # SO_REUSEADDR as servers set it: a port in TIME_WAIT after our own restart is free,
        # one with a listener is not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise RuntimeError(f"{what} port {port} on {host} is in use ({e.strerror}): is another "
                               f"local stack running? Stop it, or choose another port.") from None


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")
