"""The ledger's pure rules: lot order, holds, partial posts and voids, replays."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.events.decisions import MemoryDecisions
from chalicelib.ledger import model
from chalicelib.ledger.memory import MemoryLedgerStore
from chalicelib.ledger.service import Ledger

NOW = datetime(2026, 6, 1, tzinfo=UTC)

lots = st.lists(st.tuples(st.integers(1, 500), st.one_of(st.none(), st.integers(-30, 400))), min_size=1, max_size=12)


def book_with(spec) -> model.MemberBook:
    made = tuple(model.Lot(f"lot{i:02d}", amount, amount, None if days is None else NOW + timedelta(days=days))
                 for i, (amount, days) in enumerate(spec))
    total = sum(lot.amount for lot in made)
    return model.MemberBook("m", credits_posted=total, lots=made)


@given(lots, st.data())
def test_debits_consume_soonest_expiring_lots_first_and_lots_sum_to_the_balance(spec, data):
    book = book_with(spec)
    amount = data.draw(st.integers(1, book.posted))

    after, taken = book.consume(amount, NOW)

    assert sum(t for _, t in taken) == amount
    assert sum(lot.remaining for lot in after.lots) == book.posted - amount
    by_id = {lot.id: lot for lot in book.lots}
    order = [by_id[lot_id] for lot_id, _ in taken]
    keys = [(lot.expires_at is None, lot.expires_at or NOW) for lot in order]
    assert keys == sorted(keys)
    # every lot taken from, except the last, was emptied
    assert all(take == by_id[lot_id].remaining for lot_id, take in taken[:-1])
    untouched_sooner = [lot for lot in book.lots if lot.id not in dict(taken)
                        and (lot.expires_at is None, lot.expires_at or NOW) < keys[-1]]
    assert untouched_sooner == []


@given(st.integers(1, 1000), st.data())
def test_partial_post_moves_the_posted_part_and_releases_the_rest(balance, data):
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("g", "m", "b", balance)
    hold = data.draw(st.integers(1, balance))
    post = data.draw(st.integers(0, hold))
    ledger.hold("h", "m", hold)
    assert store.book("m").available(NOW) == balance - hold

    if post:
        ledger.post("p", "h", post)
    else:
        ledger.void("v", "h")

    book = store.book("m")
    assert book.available(NOW) == balance - post
    assert book.posted == balance - post
    assert book.debits_pending == 0
    assert sum(lot.remaining for lot in book.lots) == book.posted


def test_a_hold_is_closed_once():
    ledger = Ledger(MemoryLedgerStore(), lambda: NOW)
    ledger.grant("g", "m", "b", 100)
    ledger.hold("h", "m", 60)
    ledger.post("p", "h", 10)

    with pytest.raises(model.PendingTransferClosed):
        ledger.void("v", "h")
    with pytest.raises(model.PendingTransferClosed):
        ledger.post("p2", "h", 10)
    assert ledger.post("p", "h", 10).amount == 10  # the replay of the first post is fine


def test_no_debit_may_exceed_what_is_available():
    ledger = Ledger(MemoryLedgerStore(), lambda: NOW)
    ledger.grant("g", "m", "b", 50)
    ledger.hold("h", "m", 30)

    with pytest.raises(model.InsufficientPoints):
        ledger.redeem("r", "m", 21)
    with pytest.raises(model.InsufficientPoints):
        ledger.adjust("a", "m", -21, "too much")
    ledger.redeem("r", "m", 20)


def test_pending_grants_count_only_from_their_date():
    clock = {"now": NOW}
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: clock["now"])
    ledger.grant("g", "m", "b", 40, available_at=NOW + timedelta(days=14))

    assert store.book("m").available(NOW) == 0
    assert store.book("m").pending_credit(NOW) == 40
    with pytest.raises(model.InsufficientPoints):
        ledger.redeem("r", "m", 1)
    clock["now"] = NOW + timedelta(days=14)
    assert store.book("m").available(clock["now"]) == 40  # no write was needed
    ledger.redeem("r", "m", 40)


def test_a_replay_moves_nothing_and_a_changed_replay_is_refused():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    first = ledger.grant("g", "m", "b", 10)

    again = ledger.grant("g", "m", "b", 10)

    assert again == first
    assert store.book("m").posted == 10
    with pytest.raises(model.ExistsWithDifferentFields):
        ledger.grant("g", "m", "b", 11)


def test_expiry_takes_due_lots_but_never_held_points():
    clock = {"now": NOW}
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: clock["now"])
    ledger.grant("old", "m", "b", 30, expires_at=NOW + timedelta(days=1))
    ledger.grant("new", "m", "b", 20, expires_at=NOW + timedelta(days=100))
    ledger.hold("h", "m", 40)
    clock["now"] = NOW + timedelta(days=2)

    expired = ledger.expire("x1", "m")

    assert expired.amount == 10  # 50 posted, 40 held: only 10 may go
    ledger.void("v", "h")
    assert ledger.expire("x2", "m").amount == 20  # the rest of the due lot
    assert store.book("m").posted == 20


def test_reversal_is_capped_and_claws_back_what_is_there():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("g", "m", "b", 100)
    ledger.redeem("r", "m", 70)

    first = ledger.reverse("rev1", "g", 60)
    second = ledger.reverse("rev2", "g")

    assert (first.amount, first.meta().get("shortfall")) == (30, "30")
    assert (second.amount, second.meta().get("shortfall")) == (0, "40")
    assert store.book("m").posted == 0
    with pytest.raises(model.InvalidTransfer):
        ledger.reverse("rev3", "g", 1)
    assert ledger.reverse("rev1", "g", 60) == first  # replay


def test_a_replay_racing_its_own_first_delivery_returns_the_committed_reversal():
    """Two deliveries of one reversal: the second reads "not yet committed", then the first
    commits before the second reads what is left. It must see its own transfer, not refuse."""
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("g", "m", "b", 100)

    class RacedStore(MemoryLedgerStore):
        def reversed_amount(self, transfer_id):
            if store.transfer("rev") is None:
                ledger.reverse("rev", "g")  # the other delivery wins in between
            return store.reversed_amount(transfer_id)

    raced = RacedStore()
    raced.__dict__ = store.__dict__  # the same books, seen through the racing read
    replay = Ledger(raced, lambda: NOW).reverse("rev", "g")

    assert replay == store.transfer("rev")
    assert replay.amount == 100
    assert store.book("m").posted == 0  # reversed once


def test_member_to_member_transfer_moves_lots():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("g", "a", "b", 25)

    ledger.transfer("t", "a", "c", 10, expires_at=NOW + timedelta(days=30))

    assert (store.book("a").posted, store.book("c").posted) == (15, 10)
    assert store.book("c").lots[0].expires_at == NOW + timedelta(days=30)


@pytest.mark.parametrize("bad", [
    model.Transfer("x", "member:a", "member:a", 1, "earn"),
    model.Transfer("x", "issuance:b", "member:a", 0, "earn"),
    model.Transfer("x", "issuance:b", "member:a", -5, "earn"),
    model.Transfer("", "issuance:b", "member:a", 5, "earn"),
    model.Transfer("x", "member:a", "redemption", 5, "redeem", pending=True, void_pending_id="y"),
])
def test_malformed_transfers_are_refused(bad):
    with pytest.raises(model.InvalidTransfer):
        MemoryLedgerStore().commit(bad, NOW)


def test_transfer_ids_are_derived_from_their_input():
    assert model.transfer_id("evt1", "act1", 3, 0) == model.transfer_id("evt1", "act1", 3, 0)
    assert model.transfer_id("evt1", "act1", 3, 0) != model.transfer_id("evt1", "act1", 4, 0)


@pytest.mark.parametrize(("error", "status"), [
    (model.InsufficientPoints("x"), 409), (model.ExistsWithDifferentFields("x"), 409),
    (model.PendingTransferNotFound("x"), 404), (model.PendingTransferClosed("x"), 409),
    (model.InvalidTransfer("x"), 422),
])
def test_ledger_errors_map_through_the_one_status_table(error, status):
    from chalicelib import errors

    assert errors.http_status(error) == status
    assert error.to_body()["error"]["code"] == error.code


def test_credits_with_the_same_rounded_dates_share_one_lot_and_expiry_never_comes_early():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW + timedelta(hours=15))
    ledger.grant("g1", "m", "b", 10, expires_after="P1Y")
    ledger.grant("g2", "m", "b", 5, expires_at=NOW + timedelta(days=365, hours=2))
    ledger.grant("g3", "m", "b", 1, expires_after="P1Y", available_after="PT30M")

    lots = sorted(store.book("m").lots, key=lambda lot: -lot.remaining)

    # 15:00 + 1 year and 02:00 + 1 year both round up to the next midnight: one lot
    assert [(lot.remaining, lot.expires_at, lot.available_at) for lot in lots] == [
        (15, NOW + timedelta(days=366), None),
        (1, NOW + timedelta(days=366), NOW + timedelta(hours=16)),  # 15:30 rounds up to 16:00
    ]


@pytest.mark.parametrize("text", ["12 months", "P", "P-1D", "PT0S", ""])
def test_durations_must_be_positive_iso_8601(text):
    with pytest.raises(model.InvalidTransfer):
        Ledger(MemoryLedgerStore(), lambda: NOW).grant("g", "m", "b", 1, expires_after=text)


def test_reversals_go_through_the_reversal_account_and_undo_lifetime_earnings():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("g", "m", "b", 100)
    ledger.redeem("r", "m", 30)

    clawback = ledger.reverse("x1", "g", 20)
    refund = ledger.reverse("x2", "r", expires_after="P30D")

    assert (clawback.debit, clawback.credit) == ("member:m", model.REVERSAL)
    assert (refund.debit, refund.credit) == (model.REVERSAL, "member:m")
    book = store.book("m")
    assert (book.posted, book.lifetime_earned) == (100 - 30 - 20 + 30, 80)


def test_an_expiry_decided_on_a_stale_read_is_refused_not_applied():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW + timedelta(days=2))
    ledger.grant("due", "m", "b", 10, expires_at=NOW + timedelta(days=1))
    ledger.grant("later", "m", "b", 10, expires_at=NOW + timedelta(days=9))
    ledger.redeem("r", "m", 5)  # took 5 of the due lot after the expiry run read the book

    stale = model.Transfer("exp", "member:m", model.EXPIRY, 10, model.Code.EXPIRE)
    with pytest.raises(model.StaleDecision):
        store.commit(stale, NOW + timedelta(days=2))
    assert ledger.expire("exp", "m").amount == 5  # the service recomputes
    assert store.book("m").posted == 10


def test_a_reversal_beyond_what_is_left_is_refused_by_the_store():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("g", "m", "b", 10)
    ledger.reverse("x1", "g", 8)
    concurrent = model.Transfer("x2", "member:m", model.REVERSAL, 5, model.Code.REVERSE,
                                metadata=(("reverses", "g"), ("reverses_code", "earn")))

    with pytest.raises(model.StaleDecision):
        store.commit(concurrent, NOW)


def test_reversal_by_reference_covers_the_set_decided_at_first_delivery():
    clock = {"now": NOW}
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: clock["now"])
    ledger.grant("g1", "m", "b", 30, reference="order-1")
    clock["now"] += timedelta(seconds=1)
    ledger.grant("g2", "m", "b", 50, reference="order-1")
    ledger.grant("g3", "m", "b", 7, reference="order-2")

    partial = ledger.reverse_reference("refund-1", "m", "order-1", 40)
    ledger.grant("g4", "m", "b", 9, reference="order-1")  # after the refund was decided
    again = ledger.reverse_reference("refund-1", "m", "order-1", 40)

    assert [(t.meta()["reverses"], t.amount) for t in partial] == [("g1", 30), ("g2", 10)]  # oldest first
    assert again == partial
    assert store.book("m").posted == 30 + 50 + 7 + 9 - 40
    with pytest.raises(model.ExistsWithDifferentFields):
        ledger.reverse_reference("refund-1", "m", "order-1", 41)
    rest = ledger.reverse_reference("refund-2", "m", "order-1")
    assert [(t.meta()["reverses"], t.amount) for t in rest] == [("g2", 40), ("g4", 9)]
    with pytest.raises(model.InvalidTransfer):
        ledger.reverse_reference("refund-3", "m", "no-such-order")


def test_a_refund_inside_the_return_window_takes_back_the_pending_points_themselves():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("old", "m", "b", 50)  # available points the refund must not touch
    ledger.grant("g", "m", "b", 80, available_after="P14D")
    ledger.hold("h", "m", 50)  # even with everything available held

    reversal = ledger.reverse("rev", "g", 30)

    assert (reversal.amount, reversal.meta().get("shortfall")) == (30, None)
    book = store.book("m")
    assert (book.pending_credit(NOW), book.available(NOW), book.posted) == (50, 0, 100)
    assert ledger.reverse("rev2", "g").amount == 50  # the rest: the pending lot is gone
    assert store.book("m").pending_credit(NOW) == 0
    assert store.book("m").posted == 50


def test_guards_commit_with_their_grant_or_refuse_it():
    store = MemoryLedgerStore()
    decisions = MemoryDecisions(store.guards)
    ledger = Ledger(store, lambda: NOW)
    assert decisions.read_guards(["cap"]) == {"cap": (0, {})}
    ledger.grant("g1", "m", "b", 10, guards=(model.Guard("cap", 0, {"times": 1}),))

    with pytest.raises(model.GuardChanged):  # decided on a stale read of the guard
        ledger.grant("g2", "m", "b", 10, guards=(model.Guard("cap", 0, {"times": 1}),))

    assert store.book("m").posted == 10
    assert "g2" not in store.transfers
    assert decisions.read_guards(["cap"])["cap"] == (1, {"times": 1})
    # a replay returns the stored grant whatever its guards say now, and writes no guard
    assert ledger.grant("g1", "m", "b", 10, guards=(model.Guard("cap", 0, {"times": 1}),)).id == "g1"
    assert decisions.read_guards(["cap"])["cap"][0] == 1
    # the pipeline's claims take guards too: written once, with the claim, over the ledger's guards
    assert decisions.claim("c", {"n": 1}, (model.Guard("count", 0, {"n": 1}),)) == {"n": 1}
    assert decisions.claim("c", {"n": 2}, (model.Guard("count", 0, {"n": 2}),)) == {"n": 1}
    assert decisions.read_guards(["count"])["count"] == (1, {"n": 1})
    with pytest.raises(model.GuardChanged):  # a grant decided on the guard a claim has moved since
        ledger.grant("g3", "m", "b", 10, guards=(model.Guard("count", 0, {"n": 9}),))
    with pytest.raises(model.GuardChanged):  # and a claim decided on one a grant has moved
        decisions.claim("d", {"n": 1}, (model.Guard("cap", 0, {"times": 2}),))
    assert "d" not in decisions.claims
    assert "g3" not in store.transfers


# -- coalition: a brand takes back only what it issued to the member, net ------------------------

def _by(brand: str) -> tuple:
    return (("brand_id", brand),)


def test_a_brand_cannot_take_back_points_another_brand_issued():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("a-g", "m", "A", 500)
    ledger.grant("b-g", "m", "B", 100)

    with pytest.raises(model.BrandLimitExceeded) as refused:
        ledger.adjust("b-1", "m", -500, "take A's points", metadata=_by("B"))
    assert refused.value.code == "exceeds_brand_issued"
    assert refused.value.details == {"reclaimable": 100, "requested": 500}
    assert errors_status(refused.value) == 409

    ledger.adjust("b-2", "m", -60, "correction", metadata=_by("B"))
    ledger.adjust("b-3", "m", -40, "correction", metadata=_by("B"))  # net of what it already took back
    with pytest.raises(model.BrandLimitExceeded):
        ledger.adjust("b-4", "m", -1, "one more", metadata=_by("B"))
    assert store.book("m").posted == 500  # every one of A's points is still there
    assert store.book("m").share("B") == model.BrandShare("B", 100, 100)
    assert store.book("m").share("A") == model.BrandShare("A", 500, 0)


def test_a_brands_positive_adjustments_count_as_issued_and_a_reversed_take_back_gives_the_cap_back():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("a-g", "m", "A", 300)
    ledger.adjust("b-plus", "m", 50, "goodwill", metadata=_by("B"))
    ledger.adjust("b-minus", "m", -50, "goodwill undone", metadata=_by("B"))
    with pytest.raises(model.BrandLimitExceeded):
        ledger.adjust("b-again", "m", -1, "more", metadata=_by("B"))

    ledger.reverse("undo-minus", "b-minus")  # the member gets the 50 back: B may take them again

    assert store.book("m").share("B").outstanding == 50
    ledger.adjust("b-again", "m", -50, "again", metadata=_by("B"))
    assert store.book("m").posted == 300


def test_a_brands_reversal_takes_back_only_what_is_left_of_its_share_and_records_the_rest_as_shortfall():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("a-g", "m", "A", 500)
    ledger.grant("b-g", "m", "B", 200)
    ledger.adjust("b-minus", "m", -150, "correction", metadata=_by("B"))

    refund = ledger.reverse("b-refund", "b-g")  # B's order refunded after B already took 150 back

    assert (refund.amount, refund.meta().get("shortfall")) == (50, "150")
    assert store.book("m").posted == 500  # A's points untouched
    assert store.book("m").share("B") == model.BrandShare("B", 200, 200)


def test_admin_corrections_and_redemptions_are_no_brands_take_back():
    store = MemoryLedgerStore()
    ledger = Ledger(store, lambda: NOW)
    ledger.grant("a-g", "m", "A", 100)
    ledger.adjust("admin-minus", "m", -30, "fraud", metadata=(("by", "admin"),))
    ledger.hold("h", "m", 20, metadata=(("brand_id", "B"), ("reward_id", "r")))
    post = ledger.post("p", "h")

    assert store.book("m").posted == 50
    assert store.book("m").share("A") == model.BrandShare("A", 100, 0)
    assert store.book("m").share("B") == model.BrandShare("B")
    assert model.brand_of(post) == "B"  # a redemption's post and void carry their hold's brand
    ledger.hold("h2", "m", 5, metadata=(("brand_id", "B"),))
    assert model.brand_of(ledger.void("v2", "h2")) == "B"


def errors_status(error) -> int:
    from chalicelib import errors

    return errors.http_status(error)


def test_beyond_the_balance_is_insufficient_points_before_it_is_beyond_the_brands_share():
    ledger = Ledger(MemoryLedgerStore(), lambda: NOW)
    ledger.grant("b-g", "m", "B", 40)

    with pytest.raises(model.InsufficientPoints) as refused:
        ledger.adjust("b-1", "m", -41, "too much", metadata=_by("B"))

    assert type(refused.value) is model.InsufficientPoints
    assert refused.value.details == {"available": 40, "requested": 41}
