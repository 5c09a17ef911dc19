"""The pipeline simulation on the in-memory stores: many seeds, in milliseconds each."""

import os

import pytest

from chalicelib.events.decisions import MemoryDecisions
from chalicelib.ledger.memory import MemoryLedgerStore
from tests.pipeline_simulation import PipelineSimulation

SEEDS = [int(os.environ["PIPELINE_SEED"])] if os.environ.get("PIPELINE_SEED") else \
    range(int(os.environ.get("PIPELINE_SEEDS", "60")))


def memory_stores() -> tuple[MemoryLedgerStore, MemoryDecisions]:
    store = MemoryLedgerStore()
    return store, MemoryDecisions(store.guards)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_pipeline_pays_once_within_limits_under_crashes_and_redeliveries(seed):
    simulation = PipelineSimulation(seed, *memory_stores())
    simulation.play(120)

    assert simulation.stats["crashes"]
    assert simulation.stats["replays"]
    assert len(simulation.results) == simulation.stats["events"]


def test_the_simulation_exercises_limits_and_milestones():
    paid, refused, crashes = 0, 0, 0
    for seed in range(40):
        simulation = PipelineSimulation(seed, *memory_stores())
        simulation.play(80)
        outcomes = [o for r in simulation.results.values() for o in r["outcomes"]]
        refused += sum(1 for o in outcomes if o.get("reason"))
        paid += simulation.stats["milestones"]
        crashes += simulation.stats["crashes"]
    assert refused > 100  # limits and budgets were hit, not just configured
    assert paid > 5
    assert crashes > 100
