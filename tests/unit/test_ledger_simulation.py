"""The ledger contract suite on the in-memory store: many seeds, crashes after commit, replays.

The same suite runs on DynamoDB Local in tests/integration/test_ledger_dynamo.py. A failure
names its seed; replay it with LEDGER_SEED=<seed>. `make soak` runs many more seeds.
"""

from __future__ import annotations

import os

import pytest

from chalicelib.ledger.memory import MemoryLedgerStore
from tests.ledger_contract import Simulation

SEEDS = [int(os.environ["LEDGER_SEED"])] if os.environ.get("LEDGER_SEED") else \
    range(int(os.environ.get("LEDGER_SEEDS", "40")))
STEPS = int(os.environ.get("LEDGER_STEPS", "300"))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_operations_never_break_the_books(seed):
    simulation = Simulation(seed, MemoryLedgerStore())

    simulation.play(STEPS)

    assert len(simulation.transfers()) > STEPS // 4  # the run did real work
    if STEPS >= 100:  # long enough that every kind of fault happened
        assert simulation.stats["replays"]
        assert simulation.stats["redelivered"]
        assert simulation.stats["grants together"]
