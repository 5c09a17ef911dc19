"""The in-memory ledger store: the reference adapter for tests and the simulation.

Same contract as the DynamoDB store: :meth:`commit` is atomic, and a transfer id already
committed with the same request is a no-op success (a replay), with other fields an
:class:`ExistsWithDifferentFields`.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from chalicelib.ledger.model import (
    Code,
    ExistsWithDifferentFields,
    MemberBook,
    PendingTransferNotFound,
    Transfer,
    apply_to_member,
    check_shape,
    is_member,
)


class MemoryLedgerStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.transfers: dict[str, Transfer] = {}
        self.books: dict[str, MemberBook] = {}
        self.reversed: dict[str, int] = {}  # original transfer id -> points reversed (incl. shortfall)

    def book(self, member_id: str) -> MemberBook:
        return self.books.get(member_id) or MemberBook(member_id)

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self.transfers.get(transfer_id)

    def reversed_amount(self, transfer_id: str) -> int:
        return self.reversed.get(transfer_id, 0)

    def commit(self, transfer: Transfer, now: datetime) -> tuple[Transfer, bool]:
        """Apply and record ``transfer`` atomically; returns (stored transfer, newly applied)."""
        check_shape(transfer)
        with self._lock:
            existing = self.transfers.get(transfer.id)
            if existing is not None:
                if not existing.same_request(transfer):
                    raise ExistsWithDifferentFields(transfer.id)
                return existing, False
            pending_original = None
            if transfer.post_pending_id or transfer.void_pending_id:
                pending_original = self.transfers.get(transfer.post_pending_id or transfer.void_pending_id)
                if pending_original is None:
                    raise PendingTransferNotFound(transfer.post_pending_id or transfer.void_pending_id)
            books = {}
            for account in {transfer.debit, transfer.credit}:
                if is_member(account):
                    member_id = account.removeprefix("member:")
                    books[member_id] = apply_to_member(self.book(member_id), transfer, now, pending_original)
            stored = replace(transfer, timestamp=now)
            self.books.update(books)
            self.transfers[transfer.id] = stored
            if transfer.code == Code.REVERSE:
                original = transfer.meta().get("reverses")
                requested = transfer.amount + int(transfer.meta().get("shortfall", "0"))
                self.reversed[original] = self.reversed.get(original, 0) + requested
            return stored, True
