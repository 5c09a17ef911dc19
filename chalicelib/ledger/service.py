"""Ledger operations: grant, hold/post/void, redeem, reverse, expire, transfer, adjust.

Each builds one :class:`Transfer` whose id the caller derives from its input (so a replay is
the same transfer) and commits it through a store port; the store enforces atomicity and
exactly-once, :mod:`chalicelib.ledger.model` decides what is allowed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chalicelib.ledger import model
from chalicelib.ledger.model import Code, Guard, MemberBook, Transfer, member_account


class LedgerStore(Protocol):
    def book(self, member_id: str) -> MemberBook: ...
    def lifetime_earned(self, member_id: str) -> int: ...
    def lifetimes(self, member_ids: list[str]) -> dict[str, int]: ...
    def transfer(self, transfer_id: str) -> Transfer | None: ...
    def reversed_amount(self, transfer_id: str) -> int: ...
    def commit(self, transfer: Transfer, now: datetime, guards: tuple[Guard, ...] = ()) -> tuple[Transfer, bool]: ...
    def commit_all(self, transfers: list[Transfer], now: datetime,
                   guards: tuple[Guard, ...] = ()) -> list[Transfer]: ...
    def transfers_by_reference(self, member_id: str, reference: str) -> list[Transfer]: ...
    def claim(self, key: str, value: dict) -> dict: ...
    def earned_by_month(self, member_id: str, first: str, last: str) -> dict[str, int]: ...
    def earned_by_months(self, member_ids: list[str], first: str, last: str) -> dict[str, dict[str, int]]: ...


def _brand(transfer: Transfer) -> tuple:
    brand = model.brand_of(transfer)
    return (("brand_id", brand),) if brand else ()


MAX_REFERENCED = 100  # transfers one reversal by reference covers (an order's grants are a handful)
ATTEMPTS = 8  # fresh reads an operation whose amount derives from the books gets under contention


class Ledger:
    """Ledger operations. ``default_expires_after`` (an ISO duration) is the program's expiry
    for credits that name none; it is written into the transfer, so a replay stays identical."""

    def __init__(self, store: LedgerStore, clock, default_expires_after: str | None = None) -> None:
        self.store, self.clock, self.default_expires_after = store, clock, default_expires_after

    def _commit(self, transfer: Transfer, guards: tuple[Guard, ...] = ()) -> Transfer:
        return self.store.commit(transfer, self.clock(), guards)[0] if guards else \
            self.store.commit(transfer, self.clock())[0]

    def _expiry(self, expires_at: datetime | None, expires_after: str | None) -> str | None:
        """The duration to record: the caller's, else the program default unless a date was given."""
        if expires_after is not None or expires_at is not None:
            return expires_after
        return self.default_expires_after

    def grant(self, transfer_id: str, member_id: str, brand_id: str, amount: int, *, reference: str = "",
              expires_at: datetime | None = None, expires_after: str | None = None,
              available_at: datetime | None = None, available_after: str | None = None,
              campaign: str | None = None, metadata: tuple = (), guards: tuple[Guard, ...] = ()) -> Transfer:
        """Earn: issuance → member. Pending until ``available_at`` / ``available_after`` if given.
        ``guards`` commit with it or refuse it (:class:`~chalicelib.ledger.model.GuardChanged`);
        a replay returns the stored grant whatever its guards say now."""
        return self._commit(self.earning(transfer_id, member_id, brand_id, amount, reference=reference,
                                         expires_at=expires_at, expires_after=expires_after,
                                         available_at=available_at, available_after=available_after,
                                         campaign=campaign, metadata=metadata), guards)

    def earning(self, transfer_id: str, member_id: str, brand_id: str, amount: int, *, reference: str = "",
                expires_at: datetime | None = None, expires_after: str | None = None,
                available_at: datetime | None = None, available_after: str | None = None,
                campaign: str | None = None, metadata: tuple = ()) -> Transfer:
        """The transfer :meth:`grant` commits, built but not committed (for :meth:`grant_all`)."""
        return Transfer(transfer_id, model.issuance(brand_id, campaign), member_account(member_id), amount,
                        Code.EARN, reference, expires_at=expires_at,
                        expires_after=self._expiry(expires_at, expires_after),
                        available_at=available_at, available_after=available_after, metadata=metadata)

    def commit(self, transfer: Transfer, guards: tuple[Guard, ...] = ()) -> Transfer:
        """Commit one transfer built by :meth:`earning` (as :meth:`grant` does)."""
        return self._commit(transfer, guards)

    def grant_all(self, transfers: list[Transfer], guards: tuple[Guard, ...] = ()) -> list[Transfer]:
        """Several new earnings of one member (from :meth:`earning`) and their guards, in one
        atomic write, or none of them: :class:`~chalicelib.ledger.model.NotAllNew` when one is
        already stored (a replay: grant them one by one instead), ``GuardChanged`` as
        :meth:`grant`. An event's grants cost one transaction, not one each."""
        return self.store.commit_all(transfers, self.clock(), guards)

    def hold(self, transfer_id: str, member_id: str, amount: int, *, reference: str = "",
             metadata: tuple = ()) -> Transfer:
        return self._commit(Transfer(transfer_id, member_account(member_id), model.REDEMPTION, amount,
                                     Code.REDEEM, reference, pending=True, metadata=metadata))

    def post(self, transfer_id: str, hold_id: str, amount: int | None = None, *,
             hold: Transfer | None = None) -> Transfer:
        """Post all of a hold or part of it (the rest is released). Posts and voids carry
        their hold's brand, so a brand's history shows its own redemptions' steps only.
        ``hold``: the hold as this caller just committed it, which spares reading it again (the
        store still checks, in the post's own read and transaction, that it is pending)."""
        if hold is None or hold.id != hold_id or not hold.pending:
            hold = self._pending(hold_id)
        return self._commit(Transfer(transfer_id, hold.debit, hold.credit, hold.amount if amount is None else amount,
                                     hold.code, hold.reference, post_pending_id=hold_id, metadata=_brand(hold)))

    def void(self, transfer_id: str, hold_id: str) -> Transfer:
        hold = self._pending(hold_id)
        return self._commit(Transfer(transfer_id, hold.debit, hold.credit, hold.amount, hold.code, hold.reference,
                                     void_pending_id=hold_id, metadata=_brand(hold)))

    def _pending(self, hold_id: str) -> Transfer:
        hold = self.store.transfer(hold_id)
        if hold is None or not hold.pending:
            raise model.PendingTransferNotFound(hold_id)
        return hold

    def redeem(self, transfer_id: str, member_id: str, amount: int, *, reference: str = "") -> Transfer:
        """Hold then post at once (a burn with nothing to fulfil in between)."""
        self.hold(f"{transfer_id}:hold", member_id, amount, reference=reference)
        return self.post(transfer_id, f"{transfer_id}:hold")

    def reverse(self, transfer_id: str, original_id: str, amount: int | None = None, *,
                expires_after: str | None = None) -> Transfer:
        """Reverse (all or part of) a posted transfer, capped at what is not yet reversed.

        Points go back through the ``reversal`` account (so issued and redeemed stay gross
        figures); a member-to-member transfer is reversed between the two members. Clawing back
        points a member no longer has takes what is available and records the rest as
        ``shortfall`` in the reversal's metadata; the shortfall counts against the cap too, so
        nothing is ever reversed twice.
        """
        original = self.store.transfer(original_id)
        if original is None or original.pending or original.void_pending_id or original.code == Code.REVERSE:
            raise model.InvalidTransfer(f"{original_id} is not a posted transfer that can be reversed")
        if amount is not None and amount <= 0:
            raise model.InvalidTransfer("a reversal moves at least one point")
        if model.is_member(original.debit) and model.is_member(original.credit):
            debit, credit = original.credit, original.debit
        elif model.is_member(original.credit):
            debit, credit = original.credit, model.REVERSAL
        else:
            debit, credit = model.REVERSAL, original.debit
        brand = model.brand_of(original)
        for attempt in range(ATTEMPTS):
            existing = self.store.transfer(transfer_id)
            if existing is not None:
                return existing  # a replay: the cap below would otherwise shrink by itself
            remaining = original.amount - self.store.reversed_amount(original_id)
            requested = remaining if amount is None else min(amount, remaining)
            if requested <= 0:
                existing = self.store.transfer(transfer_id)  # this very reversal, committed since the read above
                if existing is not None:
                    return existing
                raise model.InvalidTransfer(f"{original_id} is already fully reversed")
            take, lot = requested, None
            if model.is_member(debit):  # clawing points back from a member: from the original's lot first
                if original.credit == debit and original.timestamp is not None:
                    lot = model.lot_id(*original.lot_dates(original.timestamp))
                book = self.store.book(debit.removeprefix(model.MEMBER))
                probe = Transfer("probe", debit, credit, 0, Code.REVERSE, metadata=(("lot", lot),) if lot else ())
                take = min(requested, max(0, model.reversible(book, probe, self.clock())))
                if brand is not None and original.code in (Code.EARN, Code.ADJUST):
                    take = min(take, max(0, book.share(brand).outstanding))  # a brand takes back only its own
            shortfall = requested - take
            metadata = (("reverses", original_id), ("reverses_code", original.code)) + \
                _brand(original) + ((("lot", lot),) if lot else ()) + \
                ((("shortfall", str(shortfall)),) if shortfall else ())
            try:
                return self._commit(Transfer(transfer_id, debit, credit, take, Code.REVERSE, original.reference,
                                             expires_after=expires_after if model.is_member(credit) else None,
                                             metadata=metadata))
            except (model.StaleDecision, model.InsufficientPoints):
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def reverse_reference(self, transfer_id: str, member_id: str, reference: str, amount: int | None = None, *,
                          expires_after: str | None = None) -> list[Transfer]:
        """Reverse the member's posted transfers carrying ``reference`` (e.g. an order refunded).

        All that is left of each, or ``amount`` points taken from them oldest first. Which
        transfers the request covers is decided once and stored under ``transfer_id`` before
        the first reversal, so a redelivery finishes the same set (a transfer with the same
        reference made in between is not part of it) and moves nothing twice. Each reversal's
        id is derived from ``transfer_id`` and its original's.
        """
        if amount is not None and amount <= 0:
            raise model.InvalidTransfer("a reversal moves at least one point")
        request = {"member_id": member_id, "reference": reference, "amount": amount}
        candidates = sorted((t for t in self.store.transfers_by_reference(member_id, reference)
                             if not t.pending and not t.void_pending_id and t.code != Code.REVERSE and t.amount),
                            key=lambda t: (t.timestamp, t.id))
        if not candidates:
            raise model.InvalidTransfer(f"no posted transfer of {member_id} has reference {reference!r}")
        plan = self.store.claim(f"reverse-reference:{transfer_id}",
                                {**request, "originals": [t.id for t in candidates[:MAX_REFERENCED]]})
        if {key: plan.get(key) for key in request} != request:
            raise model.ExistsWithDifferentFields(details={"id": transfer_id})
        reversals, left = [], amount
        for original_id in plan["originals"]:
            part_id = model.transfer_id(transfer_id, original_id)
            part = self.store.transfer(part_id)
            if part is None:
                remaining = self.store.transfer(original_id).amount - self.store.reversed_amount(original_id)
                if remaining <= 0 or (left is not None and left <= 0):
                    continue
                part = self.reverse(part_id, original_id, remaining if left is None else min(left, remaining),
                                    expires_after=expires_after)
            reversals.append(part)
            left = None if left is None else left - part.reversal_requested
        return reversals

    def expire(self, transfer_id: str, member_id: str) -> Transfer | None:
        """Expire the member's due lots (never points held for a redemption)."""
        for attempt in range(ATTEMPTS):
            existing = self.store.transfer(transfer_id)
            if existing is not None:
                return existing  # a redelivered expiry run: its amount was fixed when it committed
            amount = model.expirable(self.store.book(member_id), self.clock())
            if amount == 0:
                return None
            try:
                return self._commit(Transfer(transfer_id, member_account(member_id), model.EXPIRY, amount,
                                             Code.EXPIRE, metadata=(("lots", "due"),)))
            except (model.StaleDecision, model.InsufficientPoints):
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def transfer(self, transfer_id: str, from_member: str, to_member: str, amount: int, *,
                 expires_at: datetime | None = None, expires_after: str | None = None) -> Transfer:
        return self._commit(Transfer(transfer_id, member_account(from_member), member_account(to_member), amount,
                                     Code.TRANSFER, expires_at=expires_at,
                                     expires_after=self._expiry(expires_at, expires_after)))

    def adjust(self, transfer_id: str, member_id: str, points: int, reason: str, *,
               expires_at: datetime | None = None, expires_after: str | None = None,
               metadata: tuple = ()) -> Transfer:
        """A manual correction: adjustment → member (points > 0) or member → adjustment."""
        if points == 0:
            raise model.InvalidTransfer("an adjustment moves at least one point")
        member = member_account(member_id)
        debit, credit = (model.ADJUSTMENT, member) if points > 0 else (member, model.ADJUSTMENT)
        expiry = self._expiry(expires_at, expires_after) if points > 0 else None
        return self._commit(Transfer(transfer_id, debit, credit, abs(points), Code.ADJUST, reason,
                                     expires_at=expires_at if points > 0 else None, expires_after=expiry,
                                     metadata=metadata))
