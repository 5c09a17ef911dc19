"""Cold-start import cost of the app vs. the bare libraries it stands on (issue #2 goal: <= 1.3x).

Runs each import in a fresh interpreter with ``-X importtime`` several times and reports the
median total (sum of the cumulative time of top-level imports), so the two figures come from
the same run on the same machine. Usage: ``.venv/bin/python bench/importtime.py [runs]``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import boto3, pynamodb.models, chalice, aws_lambda_powertools"
APP = "import app"
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def total_us(statement: str) -> tuple[int, list[tuple[int, str]]]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    top, children = [], []
    for line in result.stderr.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        depth = len(match.group(3))
        if depth == 1:  # a top-level import
            top.append((int(match.group(2)), match.group(4)))
        elif depth == 3:  # imported directly by a top-level one
            children.append((int(match.group(2)), match.group(4)))
    return sum(us for us, _ in top), sorted(children, reverse=True)[:10]


def measure(statement: str, runs: int) -> tuple[float, list[tuple[int, str]]]:
    total_us(statement)  # warm the bytecode and file caches once
    samples = [total_us(statement) for _ in range(runs)]
    return statistics.median(s for s, _ in samples), samples[-1][1]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    baseline, _ = measure(BASELINE, runs)
    app, heaviest = measure(APP, runs)
    print(f"runs per statement: {runs} (median shown), python {sys.version.split()[0]}")
    print(f"baseline  {BASELINE!r:70} {baseline / 1000:8.1f} ms")
    print(f"app       {APP!r:70} {app / 1000:8.1f} ms")
    print(f"ratio     app / baseline = {app / baseline:.2f}x   (goal <= 1.30x)")
    print("heaviest modules imported directly by app.py (cumulative ms, last run):")
    for us, name in heaviest:
        print(f"    {us / 1000:8.1f}  {name}")


if __name__ == "__main__":
    main()
