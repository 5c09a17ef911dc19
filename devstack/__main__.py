"""`python -m devstack` — run the local stack until Ctrl-C / SIGTERM (what `make dev` runs)."""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
from pathlib import Path

from devstack.stack import LocalStack, Options


def main(argv: list[str] | None = None) -> int:
    defaults = Options.from_env()
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "reset"])
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port, help="API and web port (0: any free)")
    parser.add_argument("--dynamodb-port", type=int, default=defaults.dynamodb_port)
    parser.add_argument("--moto-port", type=int, default=defaults.moto_port)
    parser.add_argument("--state-dir", type=Path, default=defaults.state_dir)
    parser.add_argument("--speedup", type=float, default=defaults.speedup,
                        help="run schedule rates and SQS visibility timeouts N times faster")
    parser.add_argument("--api-concurrency", type=int, default=defaults.api_concurrency,
                        help="API requests served at once, each in its own container")
    parser.add_argument("--queue-concurrency", type=int, default=defaults.queue_concurrency,
                        help="batches handled at once per queue, each in its own container")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    if args.command == "reset":
        shutil.rmtree(args.state_dir, ignore_errors=True)
        print(f"removed {args.state_dir}")
        return 0

    options = Options(host=args.host, port=args.port, dynamodb_port=args.dynamodb_port,
                      moto_port=args.moto_port, state_dir=args.state_dir, speedup=args.speedup,
                      api_concurrency=args.api_concurrency, queue_concurrency=args.queue_concurrency)
    stack = LocalStack(options)
    started = False

    def on_signal(*_):
        # Before the stack is up, a stop request must interrupt whatever start() waits on
        # (a port, an emulator); after, the main loop notices the event and stops in order.
        if not started:
            raise KeyboardInterrupt
        stack.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start()
        started = True
        print(stack.banner(), flush=True)
        stack.wait()
    except KeyboardInterrupt:
        print("interrupted while starting", flush=True)
    finally:
        stack.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
