"""The local stack is concurrent like Lambda: several API containers serve requests at once
(separate processes, one request each at a time), and the races between them are met: 12
redemptions at once of a reward with 5 in stock fulfil exactly 5 and charge for exactly 5."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import descendants
from tests.e2e.helpers import new_brand
from tests.e2e.test_rewards_api import available, member_of, redeem, reward

pytestmark = pytest.mark.slow


def containers(stack) -> set[int]:
    """The stack's container processes (multiprocessing's spawned interpreters)."""
    found = set()
    for pid in descendants(stack.process.pid):
        try:
            if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except OSError:
            continue
    return found


def test_concurrent_redemptions_race_in_separate_containers(stack):
    brand = new_brand(stack, "Race Co")
    member = member_of(stack, brand, 1000)
    mug = reward(stack, brand, cost_points=50, stock=5)

    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(lambda _: redeem(stack, member, mug["id"], uuid.uuid4().hex), range(12)))

    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(201) == 5, [r.text for r in replies]
    assert {r.json()["error"]["code"] for r in replies if r.status_code != 201} == {"out_of_stock"}
    assert available(stack, member) == 1000 - 5 * 50
    assert len(containers(stack)) >= 4, "the requests did not run in several containers"

