"""The ledger's contract suite: a seeded simulation (after TigerBeetle's VOPR and auditor).

A driver runs random operations — grants (some pending, some several at once as an event's
grants are), holds, posts (partial too), voids,
redemptions, reversals, expiry runs, member transfers, adjustments — against a store, with:

- **duplicate deliveries**: an earlier operation sent again must move nothing;
- **conflicting writes**: an earlier id with other fields must be refused;
- **crashes** between "transaction committed" and "message acknowledged": the store raises
  after committing, the driver redelivers, and the redelivery must succeed without moving
  points twice;
- **concurrent writes** (stores that read before writing): another grant lands between the
  store's read and its transaction;
- **reordering**: time moves forward in random steps and redeliveries come out of order;
- **brand take-backs**: brands' negative adjustments and reversals of their credits, which
  may never take back more than that brand issued to that member, net of what it took back.

After every step (or every ``check_every`` steps) an auditor recomputes every balance from the
transfer log alone and checks the invariants. With a ``reference`` store, every operation also
runs there (the in-memory store is the reference model) and both must agree on each outcome and
each member's book. A failure names its seed; ``LEDGER_SEED=<seed>`` replays it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib.ledger import model
from chalicelib.ledger.service import Ledger

START = datetime(2026, 1, 1, tzinfo=UTC)
EXPECTED = (model.InsufficientPoints, model.PendingTransferClosed, model.InvalidTransfer)


class Crash(Exception):
    """The process died after the store committed, before the message was acknowledged."""


class Simulation:
    def __init__(self, seed: int, store, *, namespace: str = "", reference=None, crashes: bool = True,
                 interference: bool = False, members: int = 4) -> None:
        self.seed, self.rng, self.now = seed, random.Random(seed), START
        self.ns = namespace
        self.members = [f"{namespace}m{i}" for i in range(members)]
        self.brands = [f"{namespace}b1", f"{namespace}b2"]
        self.store, self.reference = store, reference
        self.ledger = Ledger(store, lambda: self.now)
        self.reference_ledger = Ledger(reference, lambda: self.now) if reference is not None else None
        self.done: list[tuple] = []  # acknowledged operations, for redeliveries
        self.holds: dict[str, int] = {}
        self.reversible: list[tuple[str, int]] = []
        self.counter = 0
        self.crashes, self.interference = crashes, interference
        self._armed: str | None = None  # the fault to inject during the current operation
        self._injected: list[tuple] = []
        self.stats: dict[str, int] = defaultdict(int)
        store.fault = self._fault

    # -- faults -----------------------------------------------------------------------------

    def _fault(self, point: str, transfer: model.Transfer) -> None:
        if self._armed == "crash" and point == "committed":
            self._armed = None
            self.stats["crashes"] += 1
            raise Crash(transfer.id)
        if self._armed == "interfere" and point == "read" and model.is_member(transfer.debit):
            self._armed = None
            member = transfer.debit.removeprefix(model.MEMBER)
            op = ("grant", self.new_id("i"), member, self.brands[0], self.rng.randint(1, 50),
                  {"expires_at": self.now + timedelta(days=400)})
            self.run(self.ledger, op)  # lands between the store's read and its transaction
            self._injected.append(op)
            self.stats["interfered"] += 1

    # -- operations -------------------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        self.counter += 1
        return f"{self.ns}{kind}-{self.counter}"

    def random_op(self) -> tuple | None:
        rng, member = self.rng, self.rng.choice(self.members)
        roll = rng.random()
        if roll < 0.25:
            expiry = rng.choice([{"expires_at": self.now + timedelta(days=rng.choice([1, 5, 30, 365]))},
                                 {"expires_after": rng.choice(["P2D", "P1M", "P1Y"])}, {}])
            if rng.random() < 0.2:
                expiry |= rng.choice([{"available_at": self.now + timedelta(days=rng.choice([1, 7]))},
                                      {"available_after": "P3D"}])
            if rng.random() < 0.3:  # an event that pays several activities: its grants commit together
                return ("grant_all", [(self.new_id("g"), member, rng.choice(self.brands), rng.randint(1, 200),
                                       rng.choice([expiry, {}, {"expires_after": "P1Y"}]) | {"reference": "order-9"})
                                      for _ in range(rng.randint(1, 4))], {})
            return ("grant", self.new_id("g"), member, rng.choice(self.brands), rng.randint(1, 200),
                    expiry | {"reference": f"order-{rng.randint(1, 6)}", "campaign": rng.choice([None, "launch"])})
        if roll < 0.37:
            return ("hold", self.new_id("h"), member, rng.randint(1, 150), {})
        if roll < 0.47 and self.holds:
            hold = rng.choice(sorted(self.holds))
            if rng.random() < 0.6:
                return ("post", self.new_id("p"), hold, rng.randint(0, self.holds[hold]) or None, {})
            return ("void", self.new_id("v"), hold, {})
        if roll < 0.57:
            return ("redeem", self.new_id("r"), member, rng.randint(1, 120), {})
        if roll < 0.61 and self.reversible:
            original, amount = rng.choice(self.reversible)
            return ("reverse", self.new_id("x"), original, rng.choice([None, rng.randint(1, amount)]),
                    {"expires_after": "P60D"})
        if roll < 0.64:  # a refund of an order: every grant of the member with that reference
            return ("reverse_reference", self.new_id("y"), member, f"order-{rng.randint(1, 6)}",
                    rng.choice([None, rng.randint(1, 150)]), {"expires_after": "P60D"})
        if roll < 0.72:
            self.now += timedelta(days=self.rng.choice([1, 3, 10]), hours=self.rng.randint(0, 23))
            return ("expire", f"{self.ns}exp-{member}-{self.now.isoformat()}", member, {})
        if roll < 0.8:
            other = rng.choice([m for m in self.members if m != member])
            return ("transfer", self.new_id("t"), member, other, rng.randint(1, 80), {"expires_after": "P90D"})
        if roll < 0.9:  # a brand's correction: a take-back is capped at what that brand issued, net
            brand = rng.choice(self.brands)
            return ("adjust", self.new_id("a"), member, rng.choice([-1, 1]) * rng.randint(1, 120), "correction",
                    {"metadata": (("brand_id", brand),)})
        return ("adjust", self.new_id("a"), member, rng.choice([-1, 1]) * rng.randint(1, 60), "support", {})

    @staticmethod
    def run(ledger: Ledger, op: tuple):
        name, *args, kwargs = op
        if name == "grant_all":  # as the earn pipeline does: together, else one by one (each a replay or new)
            transfers = [ledger.earning(*spec[:4], **spec[4]) for spec in args[0]]
            try:
                return ledger.grant_all(transfers)
            except model.NotAllNew:
                return [ledger.commit(transfer) for transfer in transfers]
        return getattr(ledger, name)(*args, **kwargs)

    def deliver(self, op: tuple):
        """Run ``op`` until acknowledged: a crash after commit means the message comes again."""
        crashed = False
        for _ in range(3):
            try:
                return ("ok", self.run(self.ledger, op))
            except Crash:
                self.stats["redelivered"] += 1
                crashed = True
                continue
            except EXPECTED as e:
                if crashed:  # something was committed before the crash: its redelivery must finish the job
                    raise AssertionError(f"redelivery of {op} after a crash was refused: {e!r}") from e
                return ("error", type(e))
        raise AssertionError(f"{op} kept crashing")

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.12 and self.done:  # a duplicate delivery, out of order
            op = self.rng.choice(self.done)
            before = self.snapshot()
            outcome = self.deliver(op)
            assert outcome[0] == "ok", f"redelivery of {op} failed: {outcome}"
            assert self.snapshot() == before, f"replay of {op} moved points"
            self.stats["replays"] += 1
            return
        if roll < 0.15 and self.done:  # the same id with different fields must be refused
            candidates = [o for o in self.done if o[0] in ("grant", "adjust")]
            if candidates:
                op = list(self.rng.choice(candidates))
                if op[0] == "grant":
                    op[4] += 1
                else:
                    op[4] = "other reason"
                try:
                    self.run(self.ledger, tuple(op))
                except model.ExistsWithDifferentFields:
                    self.stats["conflicts"] += 1
                    return
                raise AssertionError(f"changed replay {op} was accepted")
        op = self.random_op()
        if op is None:
            return
        self._armed = None
        fault = self.rng.random()
        if self.crashes and fault < 0.08:
            self._armed = "crash"
        elif self.interference and fault < 0.2 and op[0] not in ("reverse", "reverse_reference", "expire"):
            self._armed = "interfere"
        self._injected = []
        outcome = self.deliver(op)
        self._armed = None
        if self.reference_ledger is not None:
            for injected in self._injected:
                self.run(self.reference_ledger, injected)
            try:
                expected = ("ok", self.run(self.reference_ledger, op))
            except EXPECTED as e:
                expected = ("error", type(e))
            assert _comparable(outcome) == _comparable(expected), f"{op}: store {outcome} != reference {expected}"
        self.stats[f"{op[0]}:{outcome[0]}"] += 1
        if outcome[0] != "ok" or outcome[1] is None:  # refused, or an expiry run with nothing due
            return
        result = outcome[1]
        self.done.append(op)
        if op[0] == "hold":
            self.holds[result.id] = result.amount
        if op[0] in ("post", "void"):
            self.holds.pop(op[2], None)
        if op[0] == "grant_all":
            self.reversible += [(t.id, t.amount) for t in result]
            self.stats["grants together"] += len(result)
        if op[0] in ("reverse_reference", "grant_all"):
            return
        if op[0] in ("grant", "redeem", "adjust", "transfer", "expire", "post") and result.amount:
            self.reversible.append((result.id, result.amount))

    # -- the auditor ------------------------------------------------------------------------

    def snapshot(self):
        return {m: self.store.book(m) for m in self.members}

    def transfers(self) -> list[model.Transfer]:
        mine = model.member_account(self.ns)
        return [t for t in self.store.all_transfers() if t.debit.startswith(mine) or t.credit.startswith(mine)]

    def check(self) -> None:
        """Every invariant, recomputed from the transfer log alone."""
        transfers = self.transfers()
        posted, pending, earned = defaultdict(int), defaultdict(int), defaultdict(int)
        shares: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # (account, brand) -> issued, taken
        closed = {t.post_pending_id or t.void_pending_id for t in transfers if t.post_pending_id or t.void_pending_id}
        reversed_from: dict[str, int] = defaultdict(int)
        by_id = {t.id: t for t in transfers}
        for t in transfers:
            if t.pending:
                if t.id not in closed:
                    pending[t.debit] += t.amount
                continue
            if t.void_pending_id:
                continue
            posted[t.debit] -= t.amount
            posted[t.credit] += t.amount
            for account in (t.debit, t.credit):
                delta = model.brand_share_delta(t, account) if model.is_member(account) else None
                if delta:
                    shares[account, delta[0]][0] += delta[1]
                    shares[account, delta[0]][1] += delta[2]
            if t.code == model.Code.EARN:
                earned[t.credit] += t.amount
            if t.code == model.Code.REVERSE:
                original = by_id[t.meta()["reverses"]]
                reversed_from[original.id] += t.reversal_requested
                if original.code == model.Code.EARN:
                    earned[original.credit] -= t.reversal_requested
        assert sum(posted.values()) == 0, "double entry: all balances sum to zero"
        for original_id, amount in reversed_from.items():
            assert amount <= by_id[original_id].amount, f"{original_id} reversed {amount} > its amount"
        for member in self.members:
            book, account = self.store.book(member), model.member_account(member)
            assert book.posted == posted[account], f"{member}: book {book.posted} != log {posted[account]}"
            assert book.lifetime_earned == earned[account], f"{member}: lifetime earned drifted"
            by_month = self.store.earned_by_month(member, "0000-01", "9999-12")
            assert sum(by_month.values()) == earned[account], f"{member}: earnings by month {by_month} drifted"
            assert sum(lot.remaining for lot in book.lots) == book.posted, f"{member}: lots != balance"
            assert all(lot.remaining > 0 for lot in book.lots)
            assert book.debits_pending == pending[account], f"{member}: holds drifted"
            assert book.available(self.now) >= 0, f"{member}: negative available balance"
            logged = {brand: tuple(v) for (acct, brand), v in shares.items() if acct == account and v != [0, 0]}
            stored = {s.brand_id: (s.issued, s.taken_back) for s in book.brands if (s.issued, s.taken_back) != (0, 0)}
            assert stored == logged, f"{member}: brand shares {stored} != log {logged}"
            for brand, (issued, taken) in logged.items():
                assert 0 <= taken <= issued, f"{member}: {brand} took back {taken} of the {issued} it issued"
            if self.reference is not None:
                assert canonical(book) == canonical(self.reference.book(member)), \
                    f"{member}: store {book} != reference {self.reference.book(member)}"
        for account in (model.REDEMPTION, model.EXPIRY):
            assert posted[account] >= 0, f"{account} went negative"
        issued = -sum(balance for account, balance in posted.items() if account.startswith("issuance:"))
        held = sum(posted[model.member_account(m)] for m in self.members)
        assert issued == held + posted[model.REDEMPTION] + posted[model.EXPIRY] + posted[model.REVERSAL] \
            + posted[model.ADJUSTMENT], "the program does not balance"

    def play(self, steps: int, check_every: int = 1) -> None:
        for step in range(steps):
            try:
                self.step()
                if step % check_every == check_every - 1 or step == steps - 1:
                    self.check()
            except AssertionError as e:
                raise AssertionError(f"seed {self.seed}, step {step}: {e} (replay: LEDGER_SEED={self.seed})") from e


def _comparable(outcome):
    kind, value = outcome
    if kind == "ok" and isinstance(value, list):
        return kind, [(t.id, t.amount, t.metadata) for t in value]
    if kind == "ok" and value is not None:
        return kind, value.id, value.amount, value.metadata
    return kind, value


def canonical(book: model.MemberBook) -> model.MemberBook:
    """A book with its lots and holds in a fixed order, to compare stores."""
    return replace(book, lots=tuple(sorted(book.lots, key=lambda lot: lot.id)),
                   holds=tuple(sorted(book.holds, key=lambda hold: hold.id)),
                   brands=tuple(sorted((s for s in book.brands if (s.issued, s.taken_back) != (0, 0)),
                                       key=lambda share: share.brand_id)))
