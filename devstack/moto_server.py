"""moto's server, in-process, for every AWS service but DynamoDB."""

from __future__ import annotations

import functools
import logging
import time


class MotoServer:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        faster_sqs()
        safer_sqs()
        faster_events()
        faster_dispatch()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def faster_sqs() -> None:
    """Take the work per message in moto's SQS from O(queue length) back to O(1).

    moto 5.2 computes every attribute of a queue, its three message counts included (each a
    pass over all its messages, reading the clock through ``datetime`` for every one), for
    each message it sends (to read ``ContentBasedDeduplication``) and each it receives (to
    read ``MessageRetentionPeriod``). With a backlog of a few hundred, a receive of ten cost
    more than the batch it delivered, and the queue drained slower the longer it grew. Here:
    the retention check reads the one attribute it needs, and the clock is ``time.time()``
    (the same UTC epoch seconds, without building two datetimes per reading). Idempotent.
    """
    from moto.core import utils
    from moto.sqs import models

    if getattr(models, "_punchcard_faster", False):
        return

    def unix_time(dt=None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt=None) -> float:
        return time.time() * 1000.0 if dt is None else utils.unix_time_millis(dt)

    def within_retention(backend, queue_name: str, message) -> bool:
        queue = backend.get_queue(queue_name)
        return int(queue.message_retention_period) + message.sent_timestamp / 1000 > time.time()

    models.unix_time, models.unix_time_millis = unix_time, unix_time_millis
    models.SQSBackend.is_message_valid_based_on_retention_period = within_retention
    models._punchcard_faster = True


def safer_sqs() -> None:
    """One receive, delete or visibility change at a time per queue, as SQS itself keeps them.

    moto 5.2's queues take no lock where it matters: two concurrent receives both find a message
    visible before either marks it received, and both deliver it (5 of 300 messages went to two
    of six polling threads); a receive iterates the pending set while another adds to it
    (``RuntimeError: Set changed size during iteration``, a failed request); a delete rebuilds
    the message list while a send appends to it. With several pollers per queue, as Lambda
    runs them, the local stack met all three: a poison message dead-lettered twice, events
    handled by two containers at once. Here each queue's receives (the part that takes
    messages; a long poll waits outside the lock, woken by sends as before), deletes and
    visibility changes hold one lock, and a delete holds the lock a send appends under.
    Idempotent.
    """
    import threading

    from moto.sqs import models

    if getattr(models, "_punchcard_safer", False):
        return
    locks: dict[int, threading.RLock] = {}
    guard = threading.Lock()

    def lock_of(queue) -> threading.RLock:
        with guard:
            return locks.setdefault(id(queue), threading.RLock())

    receive = models.SQSBackend.receive_message

    def receive_message(backend, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None):
        queue = backend.get_queue(queue_name)
        deadline = time.time() + (wait_seconds_timeout or 0)
        while True:
            with lock_of(queue):
                found = receive(backend, queue_name, count, 0, visibility_timeout, message_attribute_names)
            left = deadline - time.time()
            if found or left <= 0:
                return found
            queue.wait_for_messages(min(1.0, left))  # a send wakes it; messages in flight do not

    def serialised(original):
        def call(backend, queue_name, *args, **kwargs):
            with lock_of(backend.get_queue(queue_name)):
                return original(backend, queue_name, *args, **kwargs)
        return call

    delete = models.Queue.delete_message

    def delete_message(queue, receipt_handle):
        with queue._messages_lock:  # what add_message appends under
            return delete(queue, receipt_handle)

    models.SQSBackend.receive_message = receive_message
    models.SQSBackend.delete_message = serialised(models.SQSBackend.delete_message)
    models.SQSBackend.change_message_visibility = serialised(models.SQSBackend.change_message_visibility)
    models.Queue.delete_message = delete_message
    models._punchcard_safer = True


def faster_events() -> None:
    """Parse each EventBridge input path once, not once per event and target.

    moto 5.2 renders every target's input (``EventTemplateParser.parse``) through
    ``jsonpath_ng.ext.parse``, which builds a new PLY parser, its LR tables included, for every
    path of every target of every event put: at 20 events/s, with each domain event going to
    three or four queues, that was over a third of the stack process's busy time (py-spy,
    BENCHMARKS.md). The parsed
    expression holds no state of the event it is matched against, so one per distinct path
    serves every event. Idempotent.
    """
    import jsonpath_ng.ext

    if getattr(jsonpath_ng.ext, "_punchcard_cached", False):
        return
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
    jsonpath_ng.ext._punchcard_cached = True


def faster_dispatch() -> None:
    """List moto's service modules once, not on every request.

    moto's server picks the backend of each request under one lock, and on the way lists its
    package directory and stats each of its ~200 entries (``backends.list_of_moto_modules``).
    The list does not change while the process runs. Idempotent.
    """
    from moto import backends

    if getattr(backends, "_punchcard_cached", False):
        return
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    backends._punchcard_cached = True
