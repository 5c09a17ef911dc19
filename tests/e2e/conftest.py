"""End-to-end: the real local stack (`python -m devstack`, what `make dev` runs) in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import requests

from devstack.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
SPEEDUP = 120  # rate(1 minute) fires every 0.5 s; a 180 s visibility timeout lapses in 1.5 s


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc), to prove a stop leaves nothing behind."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


class RunningStack:
    def __init__(self, state_dir: Path, command: list[str] | None = None, extra_env: dict | None = None):
        self.state_dir = state_dir
        self.port, self.dynamodb_port, self.moto_port = free_port(), free_port(), free_port()
        self.command = command or [sys.executable, "-m", "devstack", "run"]
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self.children: set[int] = set()

    @property
    def credentials_path(self) -> Path:
        return self.state_dir / "credentials.json"

    def launch(self) -> float:
        """Start the stack's process without waiting for it; returns the launch time."""
        env = {**os.environ, **self.extra_env,
               "PUNCHCARD_PORT": str(self.port), "PUNCHCARD_DYNAMODB_PORT": str(self.dynamodb_port),
               "PUNCHCARD_MOTO_PORT": str(self.moto_port), "PUNCHCARD_STATE_DIR": str(self.state_dir),
               "PUNCHCARD_SPEEDUP": str(SPEEDUP)}
        launched = time.time()
        self.log = open(self.state_dir.parent / f"{self.state_dir.name}-stack.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return launched

    def start(self, timeout: float = 90) -> dict:
        launched = self.launch()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"stack exited early:\n{self.output()}")
            # credentials.json is rewritten when the stack is ready (the old one is kept: the
            # stack restores keys from it)
            if self.credentials_path.exists() and self.credentials_path.stat().st_mtime >= launched:
                credentials = json.loads(self.credentials_path.read_text())
                if requests.get(credentials["api"] + "/health", timeout=5).ok:
                    self.children = descendants(self.process.pid)
                    return credentials
            time.sleep(0.25)
        self.kill()
        raise TimeoutError(f"stack not ready in {timeout}s:\n{self.output()}")

    def kill(self) -> None:
        """Stop the stack whatever state it is in (test cleanup: never leave one running)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in self.children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def output(self) -> str:
        path = self.state_dir.parent / f"{self.state_dir.name}-stack.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self, sig=signal.SIGTERM) -> float:
        """Signal the stack; returns the seconds it took to exit."""
        started = time.monotonic()
        self.children |= descendants(self.process.pid)
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self.log.close()
        return time.monotonic() - started

    def leftovers(self) -> set[int]:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            left = {pid for pid in self.children if alive(pid)}
            if not left:
                return set()
            time.sleep(0.1)
        return left


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = RunningStack(tmp_path_factory.mktemp("stack") / "local")
    running.state_dir.mkdir(parents=True)
    try:
        running.credentials = running.start()
        yield running
    finally:
        running.kill()


@pytest.fixture
def new_stack(tmp_path):
    """Stacks a test starts and stops itself; whatever a failing test leaves running is killed."""
    made: list[RunningStack] = []

    def make(**kwargs) -> RunningStack:
        running = RunningStack(tmp_path / f"local{len(made)}", **kwargs)
        running.state_dir.mkdir()
        made.append(running)
        return running

    yield make
    for running in made:
        running.kill()


def aws_client(credentials: dict, service: str):
    import boto3

    endpoints = credentials["endpoints"]
    url = endpoints["dynamodb"] if service == "dynamodb" else endpoints["aws"]
    return boto3.client(service, endpoint_url=url, region_name=endpoints["region"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def wait_until(predicate, timeout=30.0, interval=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


# -- the web app in a real browser ------------------------------------------------------------

SHOTS = Path(__file__).parent / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        message = "!!! Chromium is not installed: the browser tests are SKIPPED (make system-deps installs it) !!!"
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
