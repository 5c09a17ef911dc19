"""Cold-start import cost of the app vs. the bare libraries it stands on (issue #2 goal: <= 1.3x).

Runs each import in a fresh interpreter with ``-X importtime`` several times, the two by turns,
and reports the median totals (sum of the cumulative time of top-level imports) and the median
of each pair's ratio, so the two figures come from the same moments of the same machine.
Usage: ``.venv/bin/python bench/importtime.py [runs]``.
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


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    total_us(BASELINE), total_us(APP)  # warm the file caches once
    pairs = []  # the two statements by turns: a slow spell of the machine hits both, not one
    for _ in range(runs):
        baseline_us, _ = total_us(BASELINE)
        app_us, heaviest = total_us(APP)
        pairs.append((baseline_us, app_us))
    baseline = statistics.median(b for b, _ in pairs)
    app = statistics.median(a for _, a in pairs)
    ratios = sorted(a / b for b, a in pairs)
    print(f"runs per statement: {runs}, by turns (median shown), python {sys.version.split()[0]}")
    print(f"baseline  {BASELINE!r:70} {baseline / 1000:8.1f} ms")
    print(f"app       {APP!r:70} {app / 1000:8.1f} ms")
    print(f"ratio     app / baseline = {statistics.median(ratios):.2f}x, median of the pairs "
          f"(range {ratios[0]:.2f}-{ratios[-1]:.2f})   (goal <= 1.30x)")
    print("heaviest modules imported directly by app.py (cumulative ms, last run):")
    for us, name in heaviest:
        print(f"    {us / 1000:8.1f}  {name}")


if __name__ == "__main__":
    main()
