"""Local state that survives a hard kill: moto's queues and member logins, written as they change.

moto keeps SQS and Cognito in memory, in this process. Once the last run's state is back in
moto, :class:`StateKeeper` keeps ``.local/`` current while the stack runs:

- **logins** are written through: every change to a user (sign-up, confirmation, password,
  attributes, deletion) rewrites ``cognito-users.json`` before moto answers the request.
- **queues**: every accepted message is appended to ``queues.journal`` (one JSON line, flushed)
  before moto answers the send; at most every ``interval`` seconds, when anything moved
  (sends, receives, deletes, moves to a DLQ), a snapshot of every queue replaces
  ``queues.json`` and empties the journal. A restart restores the snapshot, then the journal's
  sends. The kernel keeps what was flushed when the process is killed, so a kill -9 loses no
  accepted message; what was deleted after the last snapshot may be delivered once more
  (at least once, as SQS itself; every consumer is idempotent).

Snapshot and journal carry a generation: a crash between writing a snapshot and emptying the
journal leaves lines of an older generation, which a restore ignores.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from devstack import cognito, queue_state

log = logging.getLogger("devstack.state")

_USER_CHANGES = ("sign_up", "confirm_sign_up", "admin_create_user", "admin_confirm_sign_up", "admin_set_user_password",
                 "admin_disable_user", "admin_enable_user", "admin_delete_user", "admin_update_user_attributes",
                 "admin_delete_user_attributes", "update_user_attributes", "change_password",
                 "confirm_forgot_password", "delete_user")


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def restore_queues(snapshot_path: Path, journal_path: Path) -> int:
    """The last snapshot and the sends journaled after it, back into moto; returns how many."""
    saved, generation = [], 0
    if snapshot_path.exists():
        data = json.loads(snapshot_path.read_text())
        if isinstance(data, list):  # written by a stack before journals: a plain list
            data = {"messages": data}
        saved, generation = data.get("messages", []), data.get("generation", 0)
    known = {item["message_id"] for item in saved}
    if journal_path.exists():
        now_ms = time.time() * 1000
        for line in journal_path.read_text().splitlines():
            try:
                item = json.loads(line)
            except ValueError:  # the line being written when the process died
                continue
            if item.pop("generation", None) == generation and item["message_id"] not in known:
                item["delay_ms"] = max(0, item.pop("due_ms") - now_ms)
                saved.append(item)
    return queue_state.restore(saved)


class StateKeeper(threading.Thread):
    def __init__(self, state_dir: Path, pool_id: str, stop: threading.Event, interval: float = 1.0) -> None:
        super().__init__(name="state", daemon=True)
        self.snapshot_path = state_dir / "queues.json"
        self.journal_path = state_dir / "queues.journal"
        self.users_path = state_dir / "cognito-users.json"
        self.pool_id, self.stop_event, self.interval = pool_id, stop, interval
        self.generation = 0
        self._lock = threading.RLock()  # a send and its journal line, or a whole snapshot
        self._users_lock = threading.Lock()
        self._dirty = threading.Event()
        self._journal = None
        self._patched: list[tuple[type, str, object]] = []

    def start(self) -> None:
        """Write what was restored, then follow every change (call once moto holds the restored state)."""
        self.save()
        self._watch()
        super().start()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            if self._dirty.is_set():
                try:
                    self.save_queues()
                except Exception:  # a queue changed under the snapshot: the next tick takes it
                    log.exception("queue snapshot failed; retrying")

    def save(self) -> tuple[int, int]:
        """Snapshot queues and logins now; returns (messages, users)."""
        return self.save_queues(), self.save_users()

    def save_queues(self) -> int:
        with self._lock:
            self._dirty.clear()
            messages = queue_state.snapshot()
            self.generation += 1
            _write_atomically(self.snapshot_path, json.dumps({"generation": self.generation, "messages": messages}))
            if self._journal is not None:
                self._journal.close()
            self._journal = open(self.journal_path, "w")  # noqa: SIM115 (kept open between sends)
            return len(messages)

    def save_users(self) -> int:
        with self._users_lock:
            return cognito.save(self.users_path, self.pool_id)

    def close(self) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    def _journal_send(self, queue_name: str, message) -> None:
        line = json.dumps({
            "generation": self.generation, "queue": queue_name, "message_id": message.id, "body": message.body,
            "message_attributes": message.message_attributes, "receive_count": message.approximate_receive_count,
            "due_ms": message.delayed_until, "group_id": message.group_id,
            "deduplication_id": message.deduplication_id})
        self._journal.write(line + "\n")
        self._journal.flush()  # in the kernel's hands: survives the death of this process

    def _watch(self) -> None:
        from moto.cognitoidp.models import CognitoIdpBackend
        from moto.sqs.models import SQSBackend

        keeper = self

        def patch(owner: type, name: str, wrapper_for) -> None:
            original = getattr(owner, name)
            self._patched.append((owner, name, original))
            setattr(owner, name, wrapper_for(original))

        def journaled(original):
            def send_message(backend, queue_name, *args, **kwargs):
                with keeper._lock:
                    message = original(backend, queue_name, *args, **kwargs)
                    keeper._journal_send(queue_name, message)
                    keeper._dirty.set()
                    return message
            return send_message

        def then(effect):
            def wrapper_for(original):
                def changed(backend, *args, **kwargs):
                    try:
                        return original(backend, *args, **kwargs)
                    finally:
                        effect()
                return changed
            return wrapper_for

        patch(SQSBackend, "send_message", journaled)
        for name in ("receive_message", "delete_message", "change_message_visibility", "purge_queue"):
            patch(SQSBackend, name, then(keeper._dirty.set))
        for name in _USER_CHANGES:
            if hasattr(CognitoIdpBackend, name):
                patch(CognitoIdpBackend, name, then(keeper.save_users))
