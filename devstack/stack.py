"""The local stack: DynamoDB Local + moto + the API + queue pollers + schedules, as one unit."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack import cognito, durable, environment, processes, provision, seed
from devstack.dynamodb_local import DynamoDBLocal
from devstack.environment import ROOT
from devstack.moto_server import MotoServer

log = logging.getLogger("devstack")
QUEUE_NICENESS = 10  # queue consumers yield the cores to the API (see containers.Pool)


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8000
    dynamodb_port: int = 8010
    moto_port: int = 8011
    state_dir: Path = ROOT / ".local"
    web_dir: Path = ROOT / "web"
    speedup: float = 1.0  # local clock: rates fire and visibility timeouts lapse this much faster
    api_concurrency: int = 4  # API containers: requests served at once
    queue_concurrency: int = 5  # batches at once per queue, each in its own container (Lambda starts with 5)
    prefix: str = "punchcard-local"

    @classmethod
    def from_env(cls) -> Options:
        env = os.environ
        return cls(
            host=env.get("PUNCHCARD_HOST", cls.host),
            port=int(env.get("PUNCHCARD_PORT", cls.port)),
            dynamodb_port=int(env.get("PUNCHCARD_DYNAMODB_PORT", cls.dynamodb_port)),
            moto_port=int(env.get("PUNCHCARD_MOTO_PORT", cls.moto_port)),
            state_dir=Path(env.get("PUNCHCARD_STATE_DIR", cls.state_dir)),
            speedup=float(env.get("PUNCHCARD_SPEEDUP", cls.speedup)),
            api_concurrency=int(env.get("PUNCHCARD_API_CONCURRENCY", cls.api_concurrency)),
            queue_concurrency=int(env.get("PUNCHCARD_QUEUE_CONCURRENCY", cls.queue_concurrency)),
        )


@dataclass
class LocalStack:
    options: Options
    dynamodb: DynamoDBLocal | None = None
    moto: MotoServer | None = None
    http: Any = None
    pollers: list = field(default_factory=list)
    pools: list = field(default_factory=list)
    scheduler: Any = None
    credentials: dict[str, Any] = field(default_factory=dict)
    # Made once the last run's queues and logins are back in moto: only then may anything
    # overwrite the saved state (a start that fails earlier must not replace it with nothing).
    keeper: durable.StateKeeper | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    @property
    def queue_state_path(self) -> Path:
        return self.options.state_dir / "queues.json"

    @property
    def queue_journal_path(self) -> Path:
        return self.options.state_dir / "queues.journal"

    @property
    def cognito_state_path(self) -> Path:
        return self.options.state_dir / "cognito-users.json"

    def start(self) -> None:
        options = self.options
        started = time.monotonic()
        options.state_dir.mkdir(parents=True, exist_ok=True)
        logs = options.state_dir / "logs"
        logs.mkdir(exist_ok=True)

        for what, port in (("API", options.port), ("DynamoDB Local", options.dynamodb_port),
                           ("moto", options.moto_port)):
            if port:
                processes.ensure_free(options.host, port, what)
        self.dynamodb = DynamoDBLocal(options.dynamodb_port or processes.free_port(),
                                      options.state_dir / "dynamodb", logs / "dynamodb.log", long_running=True)
        self.dynamodb.start()
        cognito.use_stable_ids()
        self.moto = MotoServer(options.moto_port)
        self.moto.start()
        environment.apply(environment.local_variables(self.dynamodb.endpoint, self.moto.endpoint,
                                                      prefix=options.prefix))

        provisioned = provision.provision_all(visibility_scale=1 / options.speedup)
        environment.apply(cognito.provision(self.moto.endpoint))
        restored = durable.restore_queues(self.queue_state_path, self.queue_journal_path)
        cognito.restore(self.cognito_state_path, os.environ["PUNCHCARD_USER_POOL_ID"])
        self.keeper = durable.StateKeeper(options.state_dir, os.environ["PUNCHCARD_USER_POOL_ID"], self._stop)
        self.keeper.start()

        import app  # only now: the app reads its settings from the environment set above

        self.http = self._serve(app.app)
        self._start_event_sources(app.app, provisioned["queues"])
        previous = self._read_credentials()
        self.credentials = {
            "api": self.api_url,
            "web": self.api_url,
            "endpoints": {"dynamodb": self.dynamodb.endpoint, "aws": self.moto.endpoint,
                          "region": environment.REGION},
            **seed.run(seed.SeedContext(api_url=self.api_url, previous=previous)),
        }
        self._write_credentials()
        log.info("local stack ready in %.1fs (%d queued messages restored)", time.monotonic() - started, restored)

    def _serve(self, chalice_app):
        from devstack.containers import Pool
        from devstack.gateway import Gateway

        pool = Pool("api", self.options.api_concurrency)
        self.pools.append(pool)
        server = Gateway(chalice_app, self.options.web_dir, pool).serve(self.options.host, self.options.port)
        self.options.port = server.server_address[1]
        return server

    def _start_event_sources(self, chalice_app, queues: list[provision.ProvisionedQueue]) -> None:
        from devstack.containers import Pool
        from devstack.lambda_runtime import event_handlers
        from devstack.scheduler import Scheduler
        from devstack.sqs_poller import QueuePoller

        by_name = {q.spec.name: q for q in queues}
        handlers = event_handlers(chalice_app)
        for handler in (h for h in handlers if h.kind == "sqs"):
            queue = by_name.get(handler.queue)
            if queue is None:
                raise RuntimeError(f"handler {handler.name} reads {handler.queue!r}, which no QueueSpec defines")
            pool = Pool(handler.name, self.options.queue_concurrency, niceness=QUEUE_NICENESS)
            self.pools.append(pool)
            for index in range(self.options.queue_concurrency):
                poller = QueuePoller(handler, queue.url, queue.arn, self._stop, pool, index=index)
                poller.start()
                self.pollers.append(poller)
        schedules = [h for h in handlers if h.kind == "schedule"]
        self.scheduler = Scheduler(schedules, self._stop, speedup=self.options.speedup,
                                   rule_prefix=self.options.prefix)
        self.scheduler.start()

    def _read_credentials(self) -> dict[str, Any]:
        path = self.options.state_dir / "credentials.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def _write_credentials(self) -> None:
        path = self.options.state_dir / "credentials.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.credentials, indent=2) + "\n")
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    def banner(self) -> str:
        lines = [
            "",
            "  Punchcard is running on the embedded local AWS",
            f"    API        {self.api_url}   (try {self.api_url}/health)",
            f"    Web app    {self.credentials.get('web', self.api_url)}/",
            f"    OpenAPI    {self.api_url}/openapi.json",
            f"    DynamoDB   {self.dynamodb.endpoint}   (DynamoDB Local, data in "
            f"{self.options.state_dir / 'dynamodb'})",
            f"    Other AWS  {self.moto.endpoint}   (moto: SQS, SES, S3, Cognito, KMS, Secrets Manager, EventBridge)",
            f"    Credentials {self.options.state_dir / 'credentials.json'}",
        ]
        lines.append("  LOCAL DEMO CREDENTIALS: for this machine only, made up by `make dev` (a deployed "
                     "tenant never prints or logs a secret):")
        for key in ("admin_key", "brand_key"):
            if key in self.credentials:
                lines.append(f"    {key:<11}{self.credentials[key]}")
        if "member" in self.credentials:
            member = self.credentials["member"]
            lines.append(f"    member     {member.get('email')} / {member.get('password')}")
        lines += ["  Ctrl-C stops everything.", ""]
        return "\n".join(lines)

    def stop(self) -> None:
        """Stop serving, let in-flight batches finish, snapshot the queues, stop the emulators."""
        self._stop.set()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        deadline = time.monotonic() + 3
        for thread in [*(p for p in self.pollers if p.delivering), self.scheduler]:
            if thread is not None:
                thread.join(timeout=max(0.1, deadline - time.monotonic()))
        for pool in self.pools:
            pool.stop()
        if self.keeper is not None:
            try:
                saved, users = self.keeper.save()
                log.info("saved %d queued messages and %d member logins", saved, users)
            except Exception:
                log.exception("could not save moto state")
            self.keeper.close()
        if self.moto is not None:
            self.moto.stop()
        if self.dynamodb is not None:
            self.dynamodb.stop()

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass

    def request_stop(self, *_: Any) -> None:
        self._stop.set()
