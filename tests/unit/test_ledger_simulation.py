"""A seeded simulation of the ledger (after TigerBeetle's VOPR): random operations, replays,
redeliveries after "crashes" and conflicting writes, checked against the transfer log after
every step. A failure names its seed; replay it with LEDGER_SEED=<seed>. `make soak` runs many.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.ledger import model
from chalicelib.ledger.memory import MemoryLedgerStore
from chalicelib.ledger.service import Ledger

SEEDS = [int(os.environ["LEDGER_SEED"])] if os.environ.get("LEDGER_SEED") else \
    range(int(os.environ.get("LEDGER_SEEDS", "40")))
STEPS = int(os.environ.get("LEDGER_STEPS", "300"))
MEMBERS = ["ann", "bob", "cy", "dee"]
BRANDS = ["b1", "b2"]
START = datetime(2026, 1, 1, tzinfo=UTC)


class Simulation:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = START
        self.store = MemoryLedgerStore()
        self.ledger = Ledger(self.store, lambda: self.now)
        self.done: list[tuple] = []  # successful operations, for replays
        self.holds: list[str] = []
        self.counter = 0

    def new_id(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter}"

    def random_op(self) -> tuple:
        rng, member = self.rng, self.rng.choice(MEMBERS)
        roll = rng.random()
        if roll < 0.25:
            expires = self.now + timedelta(days=rng.choice([1, 5, 30, 365])) if rng.random() < 0.8 else None
            available = self.now + timedelta(days=rng.choice([1, 7])) if rng.random() < 0.2 else None
            return ("grant", self.new_id("g"), member, rng.choice(BRANDS), rng.randint(1, 200),
                    {"expires_at": expires, "available_at": available})
        if roll < 0.37:
            return ("hold", self.new_id("h"), member, rng.randint(1, 150), {})
        if roll < 0.47 and self.holds:
            hold = rng.choice(self.holds)
            if rng.random() < 0.6:
                held = self.store.transfer(hold).amount
                return ("post", self.new_id("p"), hold, rng.randint(0, held) or None, {})
            return ("void", self.new_id("v"), hold, {})
        if roll < 0.57:
            return ("redeem", self.new_id("r"), member, rng.randint(1, 120), {})
        if roll < 0.64:
            posted = [t for t in self.store.transfers.values()
                      if not t.pending and not t.void_pending_id and t.code != model.Code.REVERSE and t.amount]
            if posted:
                original = rng.choice(posted)
                return ("reverse", self.new_id("x"), original.id, rng.choice([None, rng.randint(1, original.amount)]),
                        {"expires_at": self.now + timedelta(days=60)})
        if roll < 0.72:
            self.now += timedelta(days=self.rng.choice([1, 3, 10]))
            return ("expire", f"exp-{member}-{self.now.date()}", member, {})
        if roll < 0.8:
            other = rng.choice([m for m in MEMBERS if m != member])
            return ("transfer", self.new_id("t"), member, other, rng.randint(1, 80),
                    {"expires_at": self.now + timedelta(days=90)})
        return ("adjust", self.new_id("a"), member, rng.choice([-1, 1]) * rng.randint(1, 60), "support",
                {"expires_at": self.now + timedelta(days=365)})

    def run(self, op: tuple):
        name, *args, kwargs = op
        return getattr(self.ledger, name)(*args, **kwargs)

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.12 and self.done:  # duplicate delivery / redelivery after a crash before the ack
            op = self.rng.choice(self.done)
            before = self.snapshot()
            self.run(op)
            assert self.snapshot() == before, f"replay of {op} moved points"
            return
        if roll < 0.15 and self.done:  # the same id with different fields must be refused
            op = self.rng.choice([o for o in self.done if o[0] in ("grant", "adjust")] or [None])
            if op is not None:
                changed = list(op)
                changed[-2 if op[0] == "adjust" else 4] = op[-2 if op[0] == "adjust" else 4] + 1 \
                    if op[0] == "grant" else "other reason"
                with pytest.raises(model.ExistsWithDifferentFields):
                    self.run(tuple(changed))
                return
        op = self.random_op()
        try:
            result = self.run(op)
        except (model.InsufficientPoints, model.PendingTransferClosed, model.InvalidTransfer):
            return
        if result is None:  # an expiry run with nothing due wrote nothing: there is nothing to replay
            return
        self.done.append(op)
        if op[0] == "hold":
            self.holds.append(result.id)

    def snapshot(self):
        return ({m: self.store.book(m) for m in MEMBERS}, len(self.store.transfers))

    def check(self) -> None:
        """Every invariant, recomputed from the transfer log alone."""
        posted, pending = defaultdict(int), defaultdict(int)
        closed = {t.post_pending_id or t.void_pending_id for t in self.store.transfers.values()
                  if t.post_pending_id or t.void_pending_id}
        for t in self.store.transfers.values():
            if t.pending:
                if t.id not in closed:
                    pending[t.debit] += t.amount
                continue
            if t.void_pending_id:
                continue
            posted[t.debit] -= t.amount
            posted[t.credit] += t.amount
        assert sum(posted.values()) == 0, "double entry: all balances sum to zero"
        for member in MEMBERS:
            book, account = self.store.book(member), model.member_account(member)
            assert book.posted == posted[account], f"{member}: book {book.posted} != log {posted[account]}"
            assert sum(lot.remaining for lot in book.lots) == book.posted, f"{member}: lots != balance"
            assert all(lot.remaining > 0 for lot in book.lots)
            assert book.debits_pending == pending[account], f"{member}: holds drifted"
            assert book.available(self.now) >= 0, f"{member}: negative available balance"
            assert book.posted >= 0
        for account, balance in posted.items():
            if account in (model.REDEMPTION, model.EXPIRY):
                assert balance >= 0
        issued = -sum(b for a, b in posted.items() if a.startswith("issuance:"))
        members = sum(posted[model.member_account(m)] for m in MEMBERS)
        assert issued + -posted[model.ADJUSTMENT] == members + posted[model.REDEMPTION] + posted[model.EXPIRY]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_operations_never_break_the_books(seed):
    simulation = Simulation(seed)
    for step in range(STEPS):
        try:
            simulation.step()
            simulation.check()
        except AssertionError as e:
            raise AssertionError(f"seed {seed}, step {step}: {e} (replay: LEDGER_SEED={seed})") from e
    assert len(simulation.store.transfers) > STEPS // 4  # the run did real work
