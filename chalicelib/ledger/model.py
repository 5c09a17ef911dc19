"""The ledger's pure model (no AWS): accounts, transfers, lots, holds and their rules.

After TigerBeetle's data model. Every movement of points is an immutable :class:`Transfer`
from one account to another; its ``id`` is the idempotency key, derived from its input. A
member account holds **lots** (one per credit, with ``expires_at`` and an optional
``available_at``); debits consume lots soonest-expiring first, so the sum of a member's
remaining lots always equals their posted balance. Redemptions **hold** points first (a
pending debit), then **post** (all or part; the rest is released) or **void** the hold.

A :class:`MemberBook` is one member's state; :func:`apply_to_member` checks a transfer
against it and returns the book after it, or raises one of ``LedgerError``. Stores persist
books and transfers atomically; this module decides what is allowed.

Lots are kept per (expiry day, availability hour): expiry is rounded up to the next UTC
midnight (points never expire earlier than promised), availability up to the next whole hour.
Credits with the same rounded dates add to one lot, so a member who earns every day has one
lot per expiry day, not one per grant, and a grant can add to its lot without reading it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from chalicelib import errors, guards
from chalicelib.guards import Guard  # noqa: F401 (the ledger's guards, re-exported for its callers)

MEMBER = "member:"
MAX_AMOUNT = 2**53 - 1  # no transfer, and so no balance built of bounded grants, outgrows what clients hold


class Code:
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSE = "reverse"
    ADJUST = "adjust"
    TRANSFER = "transfer"


# System accounts. Only issuance and adjustment accounts may go negative (they are where
# points come from); their balances are derived from transfers, never updated inline.
def issuance(brand_id: str, campaign: str | None = None) -> str:
    """Where a brand's points come from: one account per brand, or per brand and campaign."""
    return f"issuance:{brand_id}:{campaign}" if campaign else f"issuance:{brand_id}"


REDEMPTION = "redemption"
EXPIRY = "expiry"
REVERSAL = "reversal"
ADJUSTMENT = "adjustment"


def member_account(member_id: str) -> str:
    return MEMBER + member_id


def is_member(account: str) -> bool:
    return account.startswith(MEMBER)


def brand_of(transfer: Transfer) -> str | None:
    """The brand a transfer belongs to: its issuance account's, or its ``brand_id`` metadata."""
    for account in (transfer.debit, transfer.credit):
        if account.startswith("issuance:"):
            return account.removeprefix("issuance:").split(":", 1)[0]
    return transfer.meta().get("brand_id")


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
    message = "This id (Idempotency-Key) was used with another request."


class PendingTransferNotFound(errors.NotFound):
    code = "pending_transfer_not_found"


class PendingTransferClosed(errors.Conflict):
    code = "pending_transfer_already_closed"


class BrandLimitExceeded(InsufficientPoints):
    """A brand's take-back (a negative adjustment, a reversal) beyond what it issued to the
    member net of what it already took back: a coalition brand never takes another's points."""

    code = "exceeds_brand_issued"


class InvalidTransfer(errors.ValidationFailed):
    code = "invalid_transfer"


class StaleDecision(errors.Conflict):
    """An amount derived from a read (what may expire, what is left to reverse) no longer holds:
    the books moved in between. The service recomputes from a fresh read and tries again."""

    code = "concurrent_update"
    retryable = True


class GuardChanged(StaleDecision):
    """A guard (a counter kept with a transfer, e.g. a limit) moved since it was read: the
    caller reads it again and decides again."""


class NotAllNew(StaleDecision):
    """:meth:`commit_all` wrote nothing because one of its transfers is stored already (or the
    write could not be confirmed): commit them one by one, each a replay or new on its own."""


LedgerError = (InsufficientPoints, BrandLimitExceeded, ExistsWithDifferentFields, PendingTransferNotFound,
               PendingTransferClosed, InvalidTransfer, StaleDecision)


def duration(text: str):
    """An ISO 8601 duration (``P12M``, ``P14D``, ``PT36H``) or :class:`InvalidTransfer`."""
    try:
        return guards.duration(text)
    except guards.InvalidDuration as e:
        raise InvalidTransfer(str(e)) from e


def _round_up(moment: datetime | None, unit: timedelta) -> datetime | None:
    if moment is None:
        return None
    floor = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    floor += (moment - floor) // unit * unit
    return floor if floor == moment else floor + unit


DAY, HOUR = timedelta(days=1), timedelta(hours=1)


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
    expires_at: datetime | None = None  # for credits to a member: the lot's expiry...
    expires_after: str | None = None  # ...or an ISO duration from the commit timestamp
    available_at: datetime | None = None  # for credits to a member: pending until then...
    available_after: str | None = None  # ...or an ISO duration from the commit timestamp
    metadata: tuple[tuple[str, str], ...] = ()
    timestamp: datetime | None = None

    def same_request(self, other: Transfer) -> bool:
        """Equal in every field the caller chose (a replay); the server timestamp aside."""
        return replace(self, timestamp=None) == replace(other, timestamp=None)

    def meta(self) -> Mapping[str, str]:
        return dict(self.metadata)

    def lot_dates(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """(expires_at, available_at) of the lot this credit makes, rounded to lot buckets."""
        expires = self.expires_at or (now + duration(self.expires_after) if self.expires_after else None)
        available = self.available_at or (now + duration(self.available_after) if self.available_after else None)
        if available is not None and available <= now:
            available = None
        return _round_up(expires, DAY), _round_up(available, HOUR)

    @property
    def reversal_requested(self) -> int:
        """Points a reversal counts against its original's cap: taken plus shortfall."""
        return self.amount + int(self.meta().get("shortfall", "0"))


def earned_month(transfer: Transfer, original_code: str | None, original_at: datetime | None
                 ) -> tuple[str, int] | None:
    """(UTC month ``yyyy-mm``, points) a transfer adds to its member's earnings by month (what
    tiers qualify on): an earn adds in its own month; reversing an earn takes back in the
    earn's month what ``lifetime_earned`` takes back. None for every other transfer."""
    if transfer.code == Code.EARN and transfer.amount and is_member(transfer.credit):
        return f"{transfer.timestamp.astimezone(UTC):%Y-%m}", transfer.amount
    if transfer.code == Code.REVERSE and original_code == Code.EARN and original_at is not None:
        return f"{original_at.astimezone(UTC):%Y-%m}", -transfer.reversal_requested
    return None


def months(first: str, last: str) -> list[str]:
    """The UTC months ``first``..``last`` (``yyyy-mm``), both included."""
    year, month = map(int, first.split("-"))
    found = []
    while f"{year:04d}-{month:02d}" <= last:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def lot_id(expires_at: datetime | None, available_at: datetime | None) -> str:
    """The bucket a credit's points go to; sorts like the consumption order within a member."""
    expires = expires_at.strftime("%Y%m%d") if expires_at else "never"
    available = available_at.strftime("%Y%m%d%H") if available_at else "now"
    return f"{expires}.{available}"


@dataclass(frozen=True)
class Lot:
    id: str  # the id of the transfer that created it
    amount: int
    remaining: int
    expires_at: datetime | None
    available_at: datetime | None = None


@dataclass(frozen=True)
class Hold:
    """An open hold (a pending debit); posting or voiding it removes it."""

    id: str
    amount: int


@dataclass(frozen=True)
class BrandShare:
    """What one brand issued to one member (its grants, its positive adjustments) and what it
    took back (its negative adjustments, reversals of its credits). ``outstanding`` bounds
    what the brand may still take back from the member."""

    brand_id: str
    issued: int = 0
    taken_back: int = 0

    @property
    def outstanding(self) -> int:
        return self.issued - self.taken_back


def brand_share_delta(transfer: Transfer, account: str) -> tuple[str, int, int] | None:
    """(brand, issued delta, taken-back delta) a transfer makes to its brand's share of the
    member ``account``, or None if it is no brand's issuing or taking back.

    - a brand's credit (an earn from its issuance account, a positive adjustment it made):
      issued += amount;
    - a brand's take-back (a negative adjustment it made, a reversal of one of its credits):
      taken back += the points actually taken (a shortfall takes nothing);
    - the reversal of a brand's negative adjustment gives back: taken back -= amount.
    Redemptions, expiry and member-to-member transfers are no brand's take-back."""
    brand = brand_of(transfer)
    if brand is None or not transfer.amount or transfer.pending or transfer.post_pending_id \
            or transfer.void_pending_id:
        return None
    reverses = transfer.meta().get("reverses_code")
    if transfer.credit == account and not is_member(transfer.debit):
        if transfer.code in (Code.EARN, Code.ADJUST):
            return brand, transfer.amount, 0
        if transfer.code == Code.REVERSE and reverses == Code.ADJUST:
            return brand, 0, -transfer.amount
    taking = transfer.code == Code.ADJUST or (transfer.code == Code.REVERSE and reverses in (Code.EARN, Code.ADJUST))
    if transfer.debit == account and not is_member(transfer.credit) and taking:
        return brand, 0, transfer.amount
    return None


@dataclass(frozen=True)
class MemberBook:
    """One member account: counters, live lots (remaining > 0), open holds, and per brand
    what it issued and took back (:class:`BrandShare`)."""

    member_id: str
    credits_posted: int = 0
    debits_posted: int = 0
    debits_pending: int = 0
    lifetime_earned: int = 0
    lots: tuple[Lot, ...] = ()
    holds: tuple[Hold, ...] = ()
    brands: tuple[BrandShare, ...] = ()

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

    def lot(self, lot_id: str) -> Lot | None:
        return next((lot for lot in self.lots if lot.id == lot_id), None)

    def share(self, brand_id: str) -> BrandShare:
        return next((s for s in self.brands if s.brand_id == brand_id), None) or BrandShare(brand_id)

    def reclaimable(self, brand_id: str, now: datetime) -> int:
        """What ``brand_id`` may take back now: its outstanding share, within what is available."""
        return max(0, min(self.share(brand_id).outstanding, self.available(now)))

    def expiring(self, limit: int = 5) -> list[tuple[datetime, int]]:
        """The next expiry dates and how many points each takes (held points included)."""
        dated: dict[datetime, int] = {}
        for lot in self.lots:
            if lot.expires_at is not None:
                dated[lot.expires_at] = dated.get(lot.expires_at, 0) + lot.remaining
        return sorted(dated.items())[:limit]

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
    if transfer.amount > MAX_AMOUNT:
        raise InvalidTransfer(f"amount must be at most {MAX_AMOUNT} (2^53 - 1, exact in every JSON client)")
    if transfer.amount == 0 and not (transfer.code == Code.REVERSE and "shortfall" in transfer.meta()):
        # the one zero-point transfer: a clawback that found nothing to take records its shortfall
        raise InvalidTransfer("amount must be a positive integer")
    if (transfer.expires_at and transfer.expires_after) or (transfer.available_at and transfer.available_after):
        raise InvalidTransfer("give a date or a duration, not both")
    for text in (transfer.expires_after, transfer.available_after):
        if text is not None:
            duration(text)
    phases = [transfer.pending, transfer.post_pending_id is not None, transfer.void_pending_id is not None]
    if sum(phases) > 1:
        raise InvalidTransfer("a transfer is pending, posts a pending transfer, or voids one: one of them")


MAX_BATCH = 20  # transfers in one commit_all: with book, lots, shares, months and guards, within 100 items


def check_credits(transfers: list[Transfer]) -> str:
    """The member that ``transfers`` (for :meth:`commit_all`) all credit; each must be a valid
    credit of that member from a system account (not a reversal), their ids distinct."""
    if not transfers or len(transfers) > MAX_BATCH:
        raise InvalidTransfer(f"commit 1 to {MAX_BATCH} transfers together")
    for transfer in transfers:
        check_shape(transfer)
        if not is_member(transfer.credit) or is_member(transfer.debit) or transfer.code == Code.REVERSE \
                or transfer.pending or transfer.post_pending_id or transfer.void_pending_id:
            raise InvalidTransfer("only credits from a system account commit together")
    if len({t.credit for t in transfers}) > 1:
        raise InvalidTransfer("transfers committed together credit one member")
    if len({t.id for t in transfers}) < len(transfers):
        raise InvalidTransfer("transfers committed together have distinct ids")
    return transfers[0].credit.removeprefix(MEMBER)


def apply_to_member(book: MemberBook, transfer: Transfer, now: datetime,
                    pending_original: Transfer | None = None) -> MemberBook:
    """The member's book after ``transfer`` (see :func:`_apply`), with the brand share it
    moves; a brand's take-back beyond its outstanding share is :class:`BrandLimitExceeded`."""
    delta = brand_share_delta(transfer, book.account)
    if delta is None:
        return _apply(book, transfer, now, pending_original)
    brand, issued, taken = delta
    share = book.share(brand)
    after = _apply(book, transfer, now, pending_original)  # beyond the balance: insufficient_points first
    if taken > share.outstanding:
        raise BrandLimitExceeded(
            "A brand takes back only what it issued to the member, net of what it already took back.",
            details={"reclaimable": book.reclaimable(brand, now), "requested": transfer.amount})
    grown = replace(share, issued=share.issued + issued, taken_back=share.taken_back + taken)
    return replace(after, brands=(*(s for s in after.brands if s.brand_id != brand), grown))


def _apply(book: MemberBook, transfer: Transfer, now: datetime,
           pending_original: Transfer | None = None) -> MemberBook:
    """The member's book after ``transfer`` (which debits or credits this member), or an error.

    ``pending_original`` is the hold a post/void refers to. Credits add to a lot; posted debits
    consume lots; pending debits (holds) reserve points without touching lots; posting a hold
    consumes the posted part and releases the rest; voiding releases it all.
    """
    check_shape(transfer)
    account = book.account
    if transfer.post_pending_id or transfer.void_pending_id:
        hold_id = transfer.post_pending_id or transfer.void_pending_id
        if pending_original is None or not pending_original.pending or pending_original.debit != account:
            raise PendingTransferNotFound(hold_id)
        hold = book.hold(hold_id)
        if hold is None:
            raise PendingTransferClosed(hold_id)
        released = replace(book, debits_pending=book.debits_pending - hold.amount,
                           holds=tuple(h for h in book.holds if h.id != hold_id))
        if transfer.void_pending_id:
            return released
        if transfer.amount > hold.amount:
            raise InvalidTransfer(f"cannot post {transfer.amount} of a {hold.amount}-point hold")
        return _debit(released, transfer.amount, now)
    if transfer.credit == account:
        return _credit(book, transfer, now)
    if transfer.debit != account:
        raise InvalidTransfer(f"transfer {transfer.id} does not touch {account}")
    if transfer.amount > reversible(book, transfer, now):
        raise InsufficientPoints("Not enough points available.",
                                 details={"available": book.available(now), "requested": transfer.amount})
    if transfer.code == Code.EXPIRE and transfer.amount > expirable(book, now):
        raise StaleDecision(f"only {expirable(book, now)} of {book.member_id}'s points are due to expire")
    if transfer.pending:
        return replace(book, debits_pending=book.debits_pending + transfer.amount,
                       holds=(*book.holds, Hold(transfer.id, transfer.amount)))
    after = _debit(book, transfer.amount, now, transfer.meta().get("lot") if transfer.code == Code.REVERSE else None)
    if transfer.code == Code.REVERSE and transfer.meta().get("reverses_code") == Code.EARN:
        after = replace(after, lifetime_earned=after.lifetime_earned - transfer.reversal_requested)
    return after


def _debit(book: MemberBook, amount: int, now: datetime, first_lot: str | None = None) -> MemberBook:
    """Take ``amount`` from lots: from ``first_lot`` first (a reversal takes back the points
    its original credited, even while they are still pending), then soonest-expiring first."""
    lot = book.lot(first_lot) if first_lot else None
    if lot is not None:
        take = min(amount, lot.remaining)
        lots = tuple(replace(x, remaining=x.remaining - take) if x.id == lot.id else x for x in book.lots)
        book = replace(book, lots=tuple(x for x in lots if x.remaining > 0))
        amount_left = amount - take
    else:
        amount_left = amount
    consumed, _ = book.consume(amount_left, now)
    return replace(consumed, debits_posted=consumed.debits_posted + amount)


def pending_in_lot(book: MemberBook, lot_id_: str | None, now: datetime) -> int:
    """Points of lot ``lot_id_`` not yet available (0 if it is available or gone)."""
    lot = book.lot(lot_id_) if lot_id_ else None
    return lot.remaining if lot is not None and lot.available_at and lot.available_at > now else 0


def reversible(book: MemberBook, transfer: Transfer, now: datetime) -> int:
    """What a debit may take: the available points, and for a reversal naming its original's
    lot also that lot's pending points (a refund inside the return window takes them back)."""
    extra = pending_in_lot(book, transfer.meta().get("lot"), now) if transfer.code == Code.REVERSE else 0
    return book.available(now) + extra


def _credit(book: MemberBook, transfer: Transfer, now: datetime) -> MemberBook:
    earned = transfer.amount if transfer.code == Code.EARN else 0
    after = replace(book, credits_posted=book.credits_posted + transfer.amount,
                    lifetime_earned=book.lifetime_earned + earned)
    if not transfer.amount:  # a clawback that found nothing to take makes no lot
        return after
    expires_at, available_at = transfer.lot_dates(now)
    key = lot_id(expires_at, available_at)
    lot = book.lot(key) or Lot(key, 0, 0, expires_at, available_at)
    grown = replace(lot, amount=lot.amount + transfer.amount, remaining=lot.remaining + transfer.amount)
    return replace(after, lots=(*(x for x in book.lots if x.id != key), grown))


def expirable(book: MemberBook, now: datetime) -> int:
    """Points of due lots that may expire now: never points a hold has reserved."""
    due = sum(lot.remaining for lot in book.lots if lot.expires_at and lot.expires_at <= now
              and (lot.available_at is None or lot.available_at <= now))
    return max(0, min(due, book.available(now)))
