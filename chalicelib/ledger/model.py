"""The ledger's pure model (no AWS): accounts, transfers, lots, holds and their rules.

After TigerBeetle's data model. Every movement of points is an immutable :class:`Transfer`
from one account to another; its ``id`` is the idempotency key, derived from its input. A
member account holds **lots** (one per credit, with ``expires_at`` and an optional
``available_at``); debits consume lots soonest-expiring first, so the sum of a member's
remaining lots always equals their posted balance. Redemptions **hold** points first (a
pending debit), then **post** (all or part; the rest is released) or **void** the hold.

A :class:`MemberBook` is one member's state; :meth:`MemberBook.apply` checks a transfer
against it and returns the book after it, or raises one of ``LedgerError``. Stores persist
books and transfers atomically; this module decides what is allowed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib import errors

MEMBER = "member:"


class Code:
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSE = "reverse"
    ADJUST = "adjust"
    TRANSFER = "transfer"


# System accounts. Only issuance and adjustment accounts may go negative (they are where
# points come from); their balances are derived from transfers, never updated inline.
def issuance(brand_id: str) -> str:
    return f"issuance:{brand_id}"


REDEMPTION = "redemption"
EXPIRY = "expiry"
REVERSAL = "reversal"
ADJUSTMENT = "adjustment"


def member_account(member_id: str) -> str:
    return MEMBER + member_id


def is_member(account: str) -> bool:
    return account.startswith(MEMBER)


def transfer_id(*parts: object) -> str:
    """A deterministic id from a transfer's input (e.g. event id, activity id, version, index)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return base64.b32encode(digest[:20]).decode().rstrip("=").lower()


# Ledger errors pick their HTTP category from chalicelib.errors (itself free of AWS and HTTP
# libraries), so the one status table maps them too.
class InsufficientPoints(errors.Conflict):
    code = "insufficient_points"


class ExistsWithDifferentFields(errors.Conflict):
    code = "exists_with_different_fields"


class PendingTransferNotFound(errors.NotFound):
    code = "pending_transfer_not_found"


class PendingTransferClosed(errors.Conflict):
    code = "pending_transfer_already_closed"


class InvalidTransfer(errors.ValidationFailed):
    code = "invalid_transfer"


LedgerError = (InsufficientPoints, ExistsWithDifferentFields, PendingTransferNotFound, PendingTransferClosed,
               InvalidTransfer)


@dataclass(frozen=True)
class Transfer:
    """One immutable movement of points. ``timestamp`` is set by the store, not the caller."""

    id: str
    debit: str
    credit: str
    amount: int
    code: str
    reference: str = ""
    pending: bool = False
    post_pending_id: str | None = None
    void_pending_id: str | None = None
    expires_at: datetime | None = None  # for credits to a member: the lot's expiry
    available_at: datetime | None = None  # for credits to a member: pending until then
    metadata: tuple[tuple[str, str], ...] = ()
    timestamp: datetime | None = None

    def same_request(self, other: Transfer) -> bool:
        """Equal in every field the caller chose (a replay); the server timestamp aside."""
        return replace(self, timestamp=None) == replace(other, timestamp=None)

    def meta(self) -> Mapping[str, str]:
        return dict(self.metadata)


@dataclass(frozen=True)
class Lot:
    id: str  # the id of the transfer that created it
    amount: int
    remaining: int
    expires_at: datetime | None
    available_at: datetime | None = None


@dataclass(frozen=True)
class Hold:
    id: str
    amount: int
    closed: bool = False


@dataclass(frozen=True)
class MemberBook:
    """One member account: counters, live lots and holds."""

    member_id: str
    credits_posted: int = 0
    debits_posted: int = 0
    debits_pending: int = 0
    lifetime_earned: int = 0
    lots: tuple[Lot, ...] = ()
    holds: tuple[Hold, ...] = field(default_factory=tuple)

    @property
    def account(self) -> str:
        return member_account(self.member_id)

    @property
    def posted(self) -> int:
        return self.credits_posted - self.debits_posted

    def pending_credit(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.lots if lot.available_at and lot.available_at > now)

    def available(self, now: datetime) -> int:
        """Spendable now: posted, less points not yet available, less points held."""
        return self.posted - self.pending_credit(now) - self.debits_pending

    def hold(self, hold_id: str) -> Hold | None:
        return next((h for h in self.holds if h.id == hold_id), None)

    def _spendable_lots(self, now: datetime) -> list[Lot]:
        return sorted((lot for lot in self.lots if lot.remaining > 0
                       and (lot.available_at is None or lot.available_at <= now)), key=_lot_order)

    def consume(self, amount: int, now: datetime) -> tuple[MemberBook, list[tuple[str, int]]]:
        """Take ``amount`` from lots, soonest-expiring first; returns (book, [(lot id, taken)])."""
        taken: list[tuple[str, int]] = []
        left = amount
        updated = {lot.id: lot for lot in self.lots}
        for lot in self._spendable_lots(now):
            if left == 0:
                break
            take = min(left, lot.remaining)
            updated[lot.id] = replace(lot, remaining=lot.remaining - take)
            taken.append((lot.id, take))
            left -= take
        if left:
            raise InsufficientPoints(f"{self.member_id} lacks {left} points in spendable lots")
        lots = tuple(lot for lot in updated.values() if lot.remaining > 0)
        return replace(self, lots=lots), taken


def _lot_order(lot: Lot) -> tuple:
    never = lot.expires_at is None
    return (never, lot.expires_at.timestamp() if lot.expires_at else 0.0, lot.id)


def check_shape(transfer: Transfer) -> None:
    if not transfer.id:
        raise InvalidTransfer("a transfer needs an id")
    if transfer.debit == transfer.credit:
        raise InvalidTransfer("debit and credit accounts must differ")
    if not isinstance(transfer.amount, int) or isinstance(transfer.amount, bool) or transfer.amount < 0:
        raise InvalidTransfer("amount must be a positive integer")
    if transfer.amount == 0 and not (transfer.code == Code.REVERSE and "shortfall" in transfer.meta()):
        # the one zero-point transfer: a clawback that found nothing to take records its shortfall
        raise InvalidTransfer("amount must be a positive integer")
    phases = [transfer.pending, transfer.post_pending_id is not None, transfer.void_pending_id is not None]
    if sum(phases) > 1:
        raise InvalidTransfer("a transfer is pending, posts a pending transfer, or voids one: one of them")


def apply_to_member(book: MemberBook, transfer: Transfer, now: datetime,
                    pending_original: Transfer | None = None) -> MemberBook:
    """The member's book after ``transfer`` (which debits or credits this member), or an error.

    ``pending_original`` is the hold a post/void refers to. Credits make a lot; posted debits
    consume lots; pending debits (holds) reserve points without touching lots; posting a hold
    consumes the posted part and releases the rest; voiding releases it all.
    """
    check_shape(transfer)
    account = book.account
    if transfer.post_pending_id or transfer.void_pending_id:
        hold_id = transfer.post_pending_id or transfer.void_pending_id
        hold = book.hold(hold_id)
        if hold is None or pending_original is None or pending_original.debit != account:
            raise PendingTransferNotFound(hold_id)
        if hold.closed:
            raise PendingTransferClosed(hold_id)
        released = replace(book, debits_pending=book.debits_pending - hold.amount,
                           holds=tuple(replace(h, closed=True) if h.id == hold_id else h for h in book.holds))
        if transfer.void_pending_id:
            return released
        if transfer.amount > hold.amount:
            raise InvalidTransfer(f"cannot post {transfer.amount} of a {hold.amount}-point hold")
        consumed, _ = released.consume(transfer.amount, now)
        return replace(consumed, debits_posted=consumed.debits_posted + transfer.amount)
    if transfer.credit == account:
        lot = Lot(transfer.id, transfer.amount, transfer.amount, transfer.expires_at, transfer.available_at)
        earned = transfer.amount if transfer.code == Code.EARN else 0
        lots = (*book.lots, lot) if transfer.amount else book.lots  # a zero-point reversal makes no lot
        return replace(book, credits_posted=book.credits_posted + transfer.amount,
                       lifetime_earned=book.lifetime_earned + earned, lots=lots)
    if transfer.debit != account:
        raise InvalidTransfer(f"transfer {transfer.id} does not touch {account}")
    if transfer.amount > book.available(now):
        raise InsufficientPoints(f"{book.member_id} has {book.available(now)} available, needs {transfer.amount}")
    if transfer.pending:
        return replace(book, debits_pending=book.debits_pending + transfer.amount,
                       holds=(*book.holds, Hold(transfer.id, transfer.amount)))
    consumed, _ = book.consume(transfer.amount, now)
    return replace(consumed, debits_posted=consumed.debits_posted + transfer.amount)


def expirable(book: MemberBook, now: datetime) -> int:
    """Points of due lots that may expire now: never points a hold has reserved."""
    due = sum(lot.remaining for lot in book.lots if lot.expires_at and lot.expires_at <= now
              and (lot.available_at is None or lot.available_at <= now))
    return max(0, min(due, book.available(now)))
