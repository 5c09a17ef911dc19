"""The ledger on DynamoDB Local: the contract suite against the reference, races, lot debts."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.events import store as decisions
from chalicelib.ledger import model
from chalicelib.ledger.dynamo import DynamoLedgerStore
from chalicelib.ledger.memory import MemoryLedgerStore
from chalicelib.ledger.service import Ledger
from tests.ledger_contract import Simulation, canonical

SEEDS = [int(os.environ["LEDGER_SEED"])] if os.environ.get("LEDGER_SEED") else \
    range(int(os.environ.get("LEDGER_DYNAMO_SEEDS", "4")))
STEPS = int(os.environ.get("LEDGER_DYNAMO_STEPS", "150"))
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def namespace() -> str:
    return uuid.uuid4().hex[:8] + "-"


@pytest.mark.parametrize("lots_per_transaction", [90, 2], ids=["lots-90", "lots-2"])
@pytest.mark.parametrize("seed", SEEDS)
def test_the_dynamodb_store_agrees_with_the_reference_under_faults(local_aws, seed, lots_per_transaction):
    simulation = Simulation(seed, DynamoLedgerStore(lots_per_transaction=lots_per_transaction),
                            namespace=namespace(), reference=MemoryLedgerStore(), interference=True)

    simulation.play(STEPS, check_every=10)

    assert simulation.stats["crashes"]
    assert simulation.stats["interfered"]
    assert simulation.stats["replays"]
    assert simulation.stats["grants together"]
    if lots_per_transaction == 2:
        assert simulation.store.settlements  # large debits left lot debts, and they were paid


def test_fifty_concurrent_redemptions_from_a_balance_for_ten(local_aws):
    store, member = DynamoLedgerStore(), f"race-{uuid.uuid4().hex}"
    ledger = Ledger(store, lambda: NOW)
    ledger.grant(f"{member}-g", member, "b", 100)
    results: list[str] = []
    start = threading.Barrier(50)

    def redeem(i: int) -> None:
        start.wait()
        try:
            ledger.redeem(f"{member}-r{i}", member, 10)
            results.append("ok")
        except model.InsufficientPoints as e:
            results.append(e.code)

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count("ok") == 10
    assert results.count("insufficient_points") == 40
    book = store.book(member)
    assert (book.posted, book.available(NOW), book.debits_pending, book.lots) == (0, 0, 0, ())


def test_a_large_debit_leaves_a_lot_debt_that_reads_apply_and_writers_settle(local_aws):
    store, member = DynamoLedgerStore(lots_per_transaction=3), f"debt-{uuid.uuid4().hex}"
    ledger = Ledger(store, lambda: NOW)
    for day in range(10):  # ten lots, one per expiry day
        ledger.grant(f"{member}-g{day}", member, "b", 10, expires_at=NOW + timedelta(days=day + 1))
    crashed = []

    def crash_before_settling(point, transfer):
        if point == "committed" and transfer.post_pending_id and not crashed:
            crashed.append(transfer.id)
            raise RuntimeError("crash")

    store.fault = crash_before_settling
    ledger.hold(f"{member}-h", member, 75)
    with pytest.raises(RuntimeError):
        ledger.post(f"{member}-p", f"{member}-h")

    part = store.partition(member)
    assert part.debt == 75 - 30  # three lots written, the rest owed
    assert [lot.remaining for lot in sorted(part.book.lots, key=lambda lot: lot.id)] == [5, 10, 10]
    # a grant must not add to lots until the debt is paid; it settles first, then commits
    ledger.grant(f"{member}-g-late", member, "b", 7, expires_at=NOW + timedelta(days=1))
    part = store.partition(member)
    assert part.debt == 0
    lots = sorted((lot.expires_at.day, lot.remaining) for lot in part.stored.lots)
    assert lots == [(2, 7), (9, 5), (10, 10), (11, 10)]
    assert part.stored.posted == 32


def test_a_grant_is_one_write_request_and_reads_nothing(local_aws):
    store, member = DynamoLedgerStore(), f"cost-{uuid.uuid4().hex}"
    ledger = Ledger(store, lambda: NOW)
    ledger.grant(f"{member}-warm", member, "b", 1)  # table metadata is cached by the first call
    calls: list[str] = []
    events = store.connection.client.meta.events
    events.register("before-call.dynamodb.*", lambda model, **kw: calls.append(model.name))

    ledger.grant(f"{member}-g", member, "b", 10)

    assert calls == ["TransactWriteItems"]


def test_an_events_grants_are_one_transaction_writing_the_book_lot_share_and_month_once(local_aws):
    store, member = DynamoLedgerStore(), f"together-{uuid.uuid4().hex}"
    ledger = Ledger(store, lambda: NOW)
    ledger.grant(f"{member}-warm", member, "b", 1)
    calls: list[dict] = []
    events = store.connection.client.meta.events
    events.register("before-parameter-build.dynamodb.*", lambda model, params, **kw: calls.append((model.name, params)))
    transfers = [ledger.earning(f"{member}-g{i}", member, "b", 10 * (i + 1), expires_after="P1Y") for i in range(3)]

    stored = ledger.grant_all(transfers)

    assert [name for name, _ in calls] == ["TransactWriteItems"]
    items = calls[0][1]["TransactItems"]
    assert len(items) == 3 + 4  # three transfers; one book, one lot (same expiry), one brand share, one month
    book = store.book(member)
    assert (book.posted, book.lifetime_earned) == (61, 61)
    assert sum(lot.remaining for lot in book.lots) == 61
    assert [s.issued for s in book.brands] == [61]
    assert sum(store.earned_by_month(member, "2000-01", "2999-12").values()) == 61
    with pytest.raises(model.NotAllNew):  # a replay writes nothing: the caller grants one by one
        ledger.grant_all([ledger.earning(f"{member}-g0", member, "b", 10, expires_after="P1Y"),
                          ledger.earning(f"{member}-g9", member, "b", 5)])
    assert store.book(member).posted == 61
    assert store.transfer(f"{member}-g9") is None
    assert [t.id for t in stored] == [f"{member}-g{i}" for i in range(3)]


def test_history_is_newest_first_and_pages(local_aws):
    store, member = DynamoLedgerStore(), f"hist-{uuid.uuid4().hex}"
    clock = {"now": NOW}
    ledger = Ledger(store, lambda: clock["now"])
    for i in range(5):
        clock["now"] = NOW + timedelta(minutes=i)
        ledger.grant(f"{member}-g{i}", member, "b", i + 1)
    ledger.transfer(f"{member}-t", member, f"{member}-friend", 3)

    first, cursor = store.history(member, 4)
    rest, end = store.history(member, 4, cursor)

    assert [t.id for t in first + rest] == [f"{member}-t"] + [f"{member}-g{i}" for i in range(4, -1, -1)]
    assert end is None
    assert [t.id for t in store.history(f"{member}-friend", 10)[0]] == [f"{member}-t"]


def test_a_brands_history_has_its_own_entries_only_and_pages_exactly(local_aws):
    """Brand B's view of a member with A's grants, A's redemption (hold, post) and B's own
    entries between them: B's entries only, every one of them once, across pages."""
    dynamo, memory, member = DynamoLedgerStore(), MemoryLedgerStore(), f"brandhist-{uuid.uuid4().hex}"
    for store in (dynamo, memory):
        clock = {"now": NOW}
        ledger = Ledger(store, lambda: clock["now"])  # noqa: B023 (the clock of this store's loop)
        for i in range(9):
            clock["now"] = NOW + timedelta(minutes=i)
            if i % 3 == 0:
                ledger.grant(f"{member}-b{i}", member, "B", 5)
            else:
                ledger.grant(f"{member}-a{i}", member, "A", 10)
        clock["now"] = NOW + timedelta(minutes=10)
        ledger.hold(f"{member}-h", member, 20, reference="A-redemption", metadata=(("brand_id", "A"),))
        clock["now"] = NOW + timedelta(minutes=11)
        ledger.post(f"{member}-p", f"{member}-h")
        clock["now"] = NOW + timedelta(minutes=12)
        ledger.adjust(f"{member}-bx", member, -5, "correction", metadata=(("brand_id", "B"),))

        seen, cursor = [], None
        for _ in range(10):
            page, cursor = store.history(member, 2, cursor, brand_id="B")
            assert len(page) <= 2
            seen += [t.id for t in page]
            if cursor is None:
                break
        assert seen == [f"{member}-bx", f"{member}-b6", f"{member}-b3", f"{member}-b0"], store
        assert [t.id for t in store.history(member, 50, brand_id="A")[0]][:2] == [f"{member}-p", f"{member}-h"]


def test_books_match_the_reference_after_every_kind_of_operation(local_aws):
    dynamo, memory, member = DynamoLedgerStore(), MemoryLedgerStore(), f"ops-{uuid.uuid4().hex}"
    for store in (dynamo, memory):
        ledger = Ledger(store, lambda: NOW, default_expires_after="P12M")
        ledger.grant(f"{member}-g1", member, "b", 100, available_after="P14D")
        ledger.grant(f"{member}-g2", member, "b", 50, expires_at=NOW + timedelta(days=3), reference="order-9")
        ledger.grant(f"{member}-g3", member, "b", 8, reference="order-9", campaign="launch")
        ledger.adjust(f"{member}-a", member, 5, "goodwill")
        ledger.hold(f"{member}-h", member, 30)
        ledger.post(f"{member}-p", f"{member}-h", 20)
        ledger.reverse(f"{member}-x", f"{member}-g2", 30)
        ledger.transfer(f"{member}-t", member, f"{member}-2", 1)
        ledger.reverse_reference(f"{member}-refund", member, "order-9", 12)
    assert canonical(dynamo.book(member)) == canonical(memory.book(member))
    assert canonical(dynamo.book(f"{member}-2")) == canonical(memory.book(f"{member}-2"))
    assert dynamo.reversed_amount(f"{member}-g2") == 30 + 12  # the refund took from the oldest first


def test_guarded_grants_race_and_only_what_the_guard_allows_commits(local_aws):
    """Twenty threads each read a cap guard and grant with it: one wins per version, the rest
    see GuardChanged, read again and find the cap reached. The cap holds exactly."""
    store, member = DynamoLedgerStore(), f"guard-{uuid.uuid4().hex}"
    ledger, key, cap = Ledger(store, lambda: NOW), f"cap-{member}", 3
    outcomes: list[str] = []
    start = threading.Barrier(20)

    def earn(i: int) -> None:
        start.wait()
        while True:
            version, state = decisions.read_guards([key])[key]
            if state.get("times", 0) >= cap:
                outcomes.append("capped")
                return
            try:
                ledger.grant(f"{member}-g{i}", member, "b", 5,
                             guards=(model.Guard(key, version, {"times": state.get("times", 0) + 1}),))
                outcomes.append("granted")
                return
            except model.GuardChanged:
                continue

    threads = [threading.Thread(target=earn, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes).count("granted") == cap
    assert len(outcomes) == 20
    assert store.book(member).posted == 5 * cap
    assert decisions.read_guards([key])[key] == (cap, {"times": cap})
    # the pipeline's claim with a stale guard is refused; with the fresh one it lands, once
    with pytest.raises(model.GuardChanged):
        decisions.claim(f"c-{member}", {"x": 1}, (model.Guard(key, 0, {"times": 9}),))
    fresh = model.Guard(key, cap, {"times": cap, "claimed": True})
    assert decisions.claim(f"c-{member}", {"x": 1}, (fresh,)) == {"x": 1}
    assert decisions.claim(f"c-{member}", {"x": 2}, (fresh,)) == {"x": 1}
    assert decisions.read_guards([key])[key][0] == cap + 1
    with pytest.raises(model.GuardChanged):  # a grant decided before the claim moved the guard
        ledger.grant(f"{member}-late", member, "b", 5, guards=(model.Guard(key, cap, {"times": cap + 1}),))
    assert store.transfer(f"{member}-late") is None


def test_a_refund_takes_back_pending_points_from_their_own_lot(local_aws):
    store, member = DynamoLedgerStore(), f"refund-{uuid.uuid4().hex}"
    ledger = Ledger(store, lambda: NOW)
    ledger.grant(f"{member}-old", member, "b", 50)
    ledger.grant(f"{member}-g", member, "b", 80, available_after="P14D")

    reversal = ledger.reverse(f"{member}-rev", f"{member}-g", 30)

    assert (reversal.amount, reversal.meta().get("shortfall")) == (30, None)
    book = store.book(member)
    assert (book.pending_credit(NOW), book.available(NOW), book.posted) == (50, 50, 100)


def test_concurrent_take_backs_by_a_brand_never_pass_what_it_issued(local_aws):
    """20 negative adjustments of 100 and the refund of the whole 500-point grant, all at once,
    by brand B on a member with 5,000 of brand A's points: B takes back exactly 500."""
    from chalicelib.store.ledger import BrandShareItem

    store, member = DynamoLedgerStore(), f"cap-{uuid.uuid4().hex}"
    ledger = Ledger(store, lambda: NOW)
    ledger.grant(f"{member}-a", member, "A", 5000)
    ledger.grant(f"{member}-b", member, "B", 500)
    results: list[tuple[str, int]] = []
    start = threading.Barrier(21)

    def take_back(i: int) -> None:
        start.wait()
        try:
            if i == 20:
                results.append(("refund", ledger.reverse(f"{member}-refund", f"{member}-b").amount))
            else:
                results.append(("ok", ledger.adjust(f"{member}-x{i}", member, -100, "race",
                                                    metadata=(("brand_id", "B"),)).amount))
        except model.BrandLimitExceeded as e:
            results.append((e.code, 0))

    threads = [threading.Thread(target=take_back, args=(i,)) for i in range(21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(points for _, points in results) == 500
    assert len(results) == 21
    assert {kind for kind, _ in results} <= {"ok", "refund", "exceeds_brand_issued"}
    book = store.book(member)
    assert book.posted == 5000  # not one of A's points
    assert book.share("B") == model.BrandShare("B", 500, 500)
    item = BrandShareItem.get(*BrandShareItem.key_for(member, "B"), consistent_read=True)
    assert (int(item.issued), int(item.taken_back), int(item.outstanding)) == (500, 500, 0)
    with pytest.raises(model.BrandLimitExceeded):
        ledger.adjust(f"{member}-late", member, -1, "late", metadata=(("brand_id", "B"),))


def test_a_take_back_decided_on_a_stale_share_is_refused_by_the_transaction_itself(local_aws):
    """The condition on the brand's share is DynamoDB's, not only the model's: a take-back
    whose decision read a share that another writer then used up fails in the transaction."""
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.store.ledger import BrandShareItem

    store, member = DynamoLedgerStore(), f"cond-{uuid.uuid4().hex}"
    ledger = Ledger(store, lambda: NOW)
    ledger.grant(f"{member}-a", member, "A", 1000)
    ledger.grant(f"{member}-b", member, "B", 100)
    BrandShareItem(*BrandShareItem.key_for(member, "B")).update(  # B's share used up behind the book's back
        actions=[BrandShareItem.taken_back.add(100), BrandShareItem.outstanding.add(-100)])
    stale = replace(store.book(member), brands=(model.BrandShare("B", 100, 0),))
    transfer = model.Transfer(f"{member}-x", model.member_account(member), model.ADJUSTMENT, 100, model.Code.ADJUST,
                              "stale", metadata=(("brand_id", "B"),), timestamp=NOW)
    after = model.apply_to_member(stale, transfer, NOW)  # the model, fed the stale share, would allow it

    with pytest.raises(TransactWriteError), store._transaction() as tx:
        store._write_share(tx, member, (
            "B", 0, after.share("B").taken_back - stale.share("B").taken_back))
    assert int(BrandShareItem.get(*BrandShareItem.key_for(member, "B")).outstanding) == 0
