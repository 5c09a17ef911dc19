"""The in-memory ledger store: the reference adapter for tests and the simulation.

Same contract as the DynamoDB store: :meth:`commit` is atomic, and a transfer id already
committed with the same request is a no-op success (a replay), with other fields an
:class:`ExistsWithDifferentFields`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.guards import GuardTable
from chalicelib.ledger.model import (
    Code,
    ExistsWithDifferentFields,
    Guard,
    GuardChanged,
    MemberBook,
    NotAllNew,
    PendingTransferNotFound,
    StaleDecision,
    Transfer,
    apply_to_member,
    brand_of,
    check_credits,
    check_shape,
    earned_month,
    is_member,
    member_account,
)


class MemoryLedgerStore:
    """``fault(point, transfer)`` is called at ``"committed"`` (written, not yet acknowledged),
    where tests inject crashes."""

    def __init__(self, fault: Callable[[str, Transfer], None] | None = None) -> None:
        self.fault = fault or (lambda point, transfer: None)
        self.guards = GuardTable()  # shared with the memory decisions over this store (their claims' guards)
        self._lock = self.guards.lock
        self.transfers: dict[str, Transfer] = {}
        self.books: dict[str, MemberBook] = {}
        self.reversed: dict[str, int] = {}  # original transfer id -> points reversed (incl. shortfall)
        self.claims: dict[str, dict] = {}  # the ledger's own plans (a reversal by reference)

    def book(self, member_id: str) -> MemberBook:
        return self.books.get(member_id) or MemberBook(member_id)

    def lifetime_earned(self, member_id: str) -> int:
        return self.book(member_id).lifetime_earned

    def lifetimes(self, member_ids: list[str]) -> dict[str, int]:
        return {m: self.lifetime_earned(m) for m in member_ids}

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self.transfers.get(transfer_id)

    def reversed_amount(self, transfer_id: str) -> int:
        return self.reversed.get(transfer_id, 0)

    def all_transfers(self) -> Iterator[Transfer]:
        return iter(list(self.transfers.values()))

    def _check_guards(self, guards: tuple[Guard, ...]) -> None:
        moved = self.guards.moved(guards)
        if moved is not None:
            raise GuardChanged(f"guard {moved.key} moved since it was read")

    def claim(self, key: str, value: dict) -> dict:
        """Store ``value`` under ``key`` unless something is there already; return what is."""
        with self._lock:
            return self.claims.setdefault(key, value)

    def earned_by_months(self, member_ids: list[str], first: str, last: str) -> dict[str, dict[str, int]]:
        return {m: self.earned_by_month(m, first, last) for m in member_ids}

    def earned_by_month(self, member_id: str, first: str, last: str) -> dict[str, int]:
        """Points earned per UTC month ``first``..``last`` (``yyyy-mm``), net of reversed earnings."""
        account, months = member_account(member_id), {}
        for t in list(self.transfers.values()):
            if account not in (t.debit, t.credit):
                continue
            original = self.transfers.get(t.meta().get("reverses", "")) if t.code == Code.REVERSE else None
            delta = earned_month(t, original.code if original else None, original.timestamp if original else None)
            if delta and first <= delta[0] <= last:
                months[delta[0]] = months.get(delta[0], 0) + delta[1]
        return months

    def transfers_by_reference(self, member_id: str, reference: str) -> list[Transfer]:
        account = member_account(member_id)
        return [t for t in self.transfers.values() if t.reference == reference and account in (t.debit, t.credit)]

    def history(self, member_id: str, limit: int, start: dict[str, Any] | None = None,
                brand_id: str | None = None) -> tuple[list[Transfer], dict[str, Any] | None]:
        """The member's transfers, newest first; ``start`` is the last key of the page before.
        With ``brand_id``, only that brand's transfers."""
        account = member_account(member_id)
        mine = sorted(((t.timestamp.isoformat(), t.id) for t in self.transfers.values()
                       if account in (t.debit, t.credit) and brand_id in (None, brand_of(t))), reverse=True)
        if start:
            mine = [key for key in mine if key < (start["at"], start["id"])]
        page = mine[:limit]
        last = {"at": page[-1][0], "id": page[-1][1]} if len(mine) > limit else None
        return [self.transfers[transfer_id] for _, transfer_id in page], last

    def commit(self, transfer: Transfer, now: datetime, guards: tuple[Guard, ...] = ()) -> tuple[Transfer, bool]:
        """Apply and record ``transfer`` atomically; returns (stored transfer, newly applied).
        ``guards`` are written with it, and refuse it (:class:`GuardChanged`) if they moved."""
        stored, applied = self._commit(transfer, now, guards)
        if applied:
            self.fault("committed", stored)
        return stored, applied

    def commit_all(self, transfers: list[Transfer], now: datetime, guards: tuple[Guard, ...] = ()) -> list[Transfer]:
        """Several new credits of one member and their guards, atomically, or nothing:
        :class:`NotAllNew` if one of them is stored already."""
        member_id = check_credits(transfers)
        with self._lock:
            if any(t.id in self.transfers for t in transfers):
                raise NotAllNew("a transfer of the batch is stored already")
            self._check_guards(guards)
            book, stored = self.book(member_id), [replace(t, timestamp=now) for t in transfers]
            for transfer in stored:
                book = apply_to_member(book, transfer, now)
            self.books[member_id] = book
            self.guards.write(guards)
            self.transfers.update((t.id, t) for t in stored)
        for transfer in stored:
            self.fault("committed", transfer)
        return stored

    def _commit(self, transfer: Transfer, now: datetime, guards: tuple[Guard, ...]) -> tuple[Transfer, bool]:
        check_shape(transfer)
        with self._lock:
            existing = self.transfers.get(transfer.id)
            if existing is not None:
                if not existing.same_request(transfer):
                    raise ExistsWithDifferentFields(details={"id": transfer.id})
                return existing, False
            self._check_guards(guards)
            pending_original = None
            if transfer.post_pending_id or transfer.void_pending_id:
                pending_original = self.transfers.get(transfer.post_pending_id or transfer.void_pending_id)
                if pending_original is None:
                    raise PendingTransferNotFound(transfer.post_pending_id or transfer.void_pending_id)
            if transfer.code == Code.REVERSE:
                self._check_reversal_cap(transfer)
            books = {}
            for account in {transfer.debit, transfer.credit}:
                if is_member(account):
                    member_id = account.removeprefix("member:")
                    books[member_id] = apply_to_member(self.book(member_id), transfer, now, pending_original)
            stored = replace(transfer, timestamp=now)
            self.books.update(books)
            self.guards.write(guards)
            self.transfers[transfer.id] = stored
            if transfer.code == Code.REVERSE:
                original = transfer.meta()["reverses"]
                self.reversed[original] = self.reversed.get(original, 0) + transfer.reversal_requested
            return stored, True

    def _check_reversal_cap(self, transfer: Transfer) -> None:
        original = self.transfers.get(transfer.meta().get("reverses", ""))
        if original is None:
            raise PendingTransferNotFound(transfer.meta().get("reverses", ""))
        if self.reversed.get(original.id, 0) + transfer.reversal_requested > original.amount:
            raise StaleDecision(f"{original.id} has less left to reverse than {transfer.reversal_requested}")
