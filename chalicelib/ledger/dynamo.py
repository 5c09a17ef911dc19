"""The DynamoDB ledger store (pynamodb): the same contract as the in-memory store.

Exactly once: a transfer's own item (conditional on its key not existing) and every change
it makes to member partitions are one TransactWriteItems. A replay finds the item and
compares fields; nothing moves twice.

- **Credits from a system account** (grants, positive adjustments) never read: the
  transaction puts the transfer and ``ADD``s to the member's book counters and ``version``,
  the lot bucket, the brand's share and the month's earnings: 1 request, 5 items. An event's
  grants go together (:meth:`DynamoLedgerStore.commit_all`): one transaction with a put per
  transfer and the book, each lot, share and month written once (an event paying three
  activities: 7 items, not 15 in three requests).
- **Everything else** (holds, posts, voids, debits, expiry, reversals, member transfers)
  reads the member partition (book, lots, open holds: one query), lets the pure model decide,
  and writes the new state conditioned on the book's ``version``. Any concurrent change to
  the partition bumps ``version``, so a stale decision fails as a whole and is retried on a
  fresh read (with jittered backoff).
- **Large debits.** A transaction holds at most 100 items. A debit that empties more lots
  than :data:`LOTS_PER_TRANSACTION` updates the first ones and records the rest on the book
  as ``lot_debt`` (points still to take from lots, soonest-expiring first, as at
  ``lot_debt_at``). Readers apply the debt in memory; grants are conditioned on there being
  no debt; the committing call then settles the debt in further transactions, and any later
  writer finishes the job if it was interrupted. The balance counters are exact throughout.
- **System accounts** are never written: their balances are derived from transfers, so no
  program-wide item becomes a hot key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import errors
from chalicelib.ledger import model
from chalicelib.ledger.model import (
    BrandShare,
    Code,
    ExistsWithDifferentFields,
    Guard,
    Hold,
    Lot,
    MemberBook,
    NotAllNew,
    PendingTransferNotFound,
    StaleDecision,
    Transfer,
    apply_to_member,
    check_shape,
    is_member,
)
from chalicelib.store import guards as guard_items
from chalicelib.store.base import connection
from chalicelib.store.ledger import (
    BookItem,
    BrandShareItem,
    ClaimItem,
    EarnedItem,
    HoldItem,
    LedgerTable,
    LotItem,
    TransferItem,
    account_pk,
    expiry_key,
)
from chalicelib.store.writes import ATTEMPTS, Contention, backoff, refuse_if_permanent
from chalicelib.store.writes import WriteRefused as WriteRefused  # where callers have found it

LOTS_PER_TRANSACTION = 90  # + transfer, mirror, two books, hold, original, month earned, brand share: within 100
HISTORY_READS = 8  # queries one filtered history page may take


@dataclass(frozen=True)
class Partition:
    """A member partition as read: the stored book, its version and any lot debt."""

    stored: MemberBook  # lots as stored (before the debt is applied)
    version: int | None  # None: no book item yet
    debt: int = 0
    debt_at: datetime | None = None

    @property
    def book(self) -> MemberBook:
        """The book as it stands: the lot debt taken from the stored lots."""
        if not self.debt:
            return self.stored
        consumed, _ = self.stored.consume(self.debt, self.debt_at)
        return replace(self.stored, lots=consumed.lots)


def _member_id(account: str) -> str:
    return account.removeprefix(model.MEMBER)


def _to_item(transfer: Transfer, side: str = "TRANSFER") -> TransferItem:
    owner = transfer.credit if side == "CREDIT" or not is_member(transfer.debit) else transfer.debit
    return TransferItem(
        *TransferItem.key_for(transfer.id, side), debit=transfer.debit, credit=transfer.credit,
        amount=transfer.amount, code=transfer.code, reference=transfer.reference, pending=transfer.pending,
        post_pending_id=transfer.post_pending_id, void_pending_id=transfer.void_pending_id,
        expires_at=transfer.expires_at, expires_after=transfer.expires_after, available_at=transfer.available_at,
        available_after=transfer.available_after, metadata=[list(pair) for pair in transfer.metadata] or None,
        timestamp=transfer.timestamp, gsi1pk=f"MEMBER#{_member_id(owner)}",
        gsi1sk=f"{transfer.timestamp.isoformat()}#{transfer.id}")


def _from_item(item: TransferItem) -> Transfer:
    return Transfer(
        item.pk.removeprefix("TRANSFER#"), item.debit, item.credit, int(item.amount), item.code, item.reference or "",
        pending=bool(item.pending), post_pending_id=item.post_pending_id, void_pending_id=item.void_pending_id,
        expires_at=item.expires_at, expires_after=item.expires_after, available_at=item.available_at,
        available_after=item.available_after, metadata=tuple(tuple(pair) for pair in item.metadata or ()),
        timestamp=item.timestamp)


def _replay(existing: Transfer, transfer: Transfer) -> tuple[Transfer, bool]:
    if not existing.same_request(transfer):
        raise ExistsWithDifferentFields(details={"id": transfer.id})
    return existing, False


def _history_key(member_id: str, key: dict[str, Any]) -> bool:
    shape = set(key) == {"pk", "sk", "gsi1pk", "gsi1sk"} and all(
        isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) and value["S"]
        for value in key.values())
    return shape and key["gsi1pk"]["S"] == f"MEMBER#{member_id}" and key["pk"]["S"].startswith("TRANSFER#")


class DynamoLedgerStore:
    """``fault(point, transfer)`` is called at ``"read"`` (decided, not yet written) and
    ``"committed"`` (written, not yet settled or acknowledged): tests inject concurrent writes
    and crashes there. ``lots_per_transaction`` is lowered by tests to exercise lot debts."""

    def __init__(self, fault: Callable[[str, Transfer], None] | None = None,
                 lots_per_transaction: int = LOTS_PER_TRANSACTION) -> None:
        self.fault = fault or (lambda point, transfer: None)
        self.lots_per_transaction = lots_per_transaction
        self.settlements = 0  # transactions that paid down a lot debt (for tests and benchmarks)

    @property
    def connection(self):
        return connection()  # the process's shared one

    # -- reads ------------------------------------------------------------------------------

    def partition(self, member_id: str) -> Partition:
        """Book, lots and open holds in one strongly consistent query."""
        book, lots, holds, brands, start = None, [], [], [], None
        table = LedgerTable._get_connection()
        while True:
            page = table.query(account_pk(member_id), consistent_read=True, exclusive_start_key=start)
            for raw in page.get("Items", []):
                sort_key = raw["sk"]["S"]
                if sort_key == "BOOK":
                    book = BookItem.from_raw_data(raw)
                elif sort_key.startswith("LOT#"):
                    item = LotItem.from_raw_data(raw)
                    if item.remaining > 0:
                        lots.append(Lot(sort_key.removeprefix("LOT#"), int(item.amount), int(item.remaining),
                                        item.expires_at, item.available_at))
                elif sort_key.startswith("HOLD#"):
                    holds.append(Hold(sort_key.removeprefix("HOLD#"), int(HoldItem.from_raw_data(raw).amount)))
                elif sort_key.startswith("BRAND#"):
                    share = BrandShareItem.from_raw_data(raw)
                    brands.append(BrandShare(sort_key.removeprefix("BRAND#"), int(share.issued),
                                             int(share.taken_back)))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        if book is None:
            return Partition(MemberBook(member_id, lots=tuple(lots), holds=tuple(holds), brands=tuple(brands)), None)
        stored = MemberBook(member_id, int(book.credits_posted), int(book.debits_posted), int(book.debits_pending),
                            int(book.lifetime_earned), tuple(lots), tuple(holds), tuple(brands))
        return Partition(stored, int(book.version), int(book.lot_debt or 0), book.lot_debt_at)

    def book(self, member_id: str) -> MemberBook:
        return self.partition(member_id).book

    def lifetime_earned(self, member_id: str) -> int:
        """The member's lifetime earnings: one read of the book item (consistent), not the
        partition's query, whose lots grow with every grant."""
        try:
            return int(BookItem.get(*BookItem.key_for(member_id), consistent_read=True,
                                    attributes_to_get=["lifetime_earned"]).lifetime_earned or 0)
        except DoesNotExist:
            return 0

    def lifetimes(self, member_ids: list[str]) -> dict[str, int]:
        """Many members' lifetime earnings in one strongly consistent BatchGetItem per 100."""
        found = {m: 0 for m in member_ids}
        if member_ids:
            for item in BookItem.batch_get([BookItem.key_for(m) for m in dict.fromkeys(member_ids)],
                                           consistent_read=True, attributes_to_get=["pk", "lifetime_earned"]):
                found[item.pk.removeprefix("ACCT#")] = int(item.lifetime_earned or 0)
        return found

    def _item(self, transfer_id: str) -> TransferItem | None:
        try:
            return TransferItem.get(*TransferItem.key_for(transfer_id), consistent_read=True)
        except DoesNotExist:
            return None

    def transfer(self, transfer_id: str) -> Transfer | None:
        item = self._item(transfer_id)
        return _from_item(item) if item else None

    def reversed_amount(self, transfer_id: str) -> int:
        item = self._item(transfer_id)
        return int(item.reversed or 0) if item else 0

    def members_with_lots_due(self, day: date, shard: int, limit: int = 100,
                              start: dict[str, Any] | None = None) -> tuple[list[str], dict[str, Any] | None]:
        """Members with a lot expiring on ``day`` in one shard of the ``expiring`` index: a page."""
        page = LedgerTable._get_connection().query(f"EXPIRY#{day:%Y%m%d}#{shard}", index_name="expiring",
                                                   limit=limit, exclusive_start_key=start)
        members = dict.fromkeys(raw["pk"]["S"].removeprefix("ACCT#") for raw in page.get("Items", []))
        return list(members), page.get("LastEvaluatedKey")

    def all_transfers(self) -> Iterator[Transfer]:
        """Every transfer (a scan: for audits and reports, never on a request path)."""
        for item in TransferItem.scan(TransferItem.sk == "TRANSFER"):
            yield _from_item(item)

    def claim(self, key: str, value: dict) -> dict:
        """Store ``value`` under ``key`` unless something is there already; return what is
        (the ledger's own plans: which transfers a reversal by reference covers)."""
        try:
            ClaimItem(*ClaimItem.key_for(key), value=value).save(condition=ClaimItem.pk.does_not_exist())
            return value
        except PutError as e:
            refuse_if_permanent(e)
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise
        return ClaimItem.get(*ClaimItem.key_for(key), consistent_read=True).value

    def transfers_by_reference(self, member_id: str, reference: str) -> list[Transfer]:
        """The member's transfers with ``reference``: the member's history index, filtered.

        Costs reads in proportion to the member's history; references are looked up rarely
        (refunds, corrections), so they get no index of their own (1 more WCU per grant).
        """
        found, start = [], None
        while True:
            page = LedgerTable._get_connection().query(f"MEMBER#{member_id}", index_name="history",
                                                       filter_condition=TransferItem.reference == reference,
                                                       exclusive_start_key=start)
            found += [_from_item(TransferItem.from_raw_data(raw)) for raw in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    def history(self, member_id: str, limit: int, start: dict[str, Any] | None = None,
                brand_id: str | None = None) -> tuple[list[Transfer], dict[str, Any] | None]:
        """The member's transfers, newest first (eventually consistent: a global index).

        ``start`` is the last key of the page before; one naming another member's index
        partition, or malformed, is refused as ``invalid_cursor``. With ``brand_id``, only that
        brand's transfers (:func:`~chalicelib.ledger.model.brand_of`): each query asks for no
        more items than the page still lacks, so the cursor is the last item examined; at
        most :data:`HISTORY_READS` queries a page (a short page then still has a cursor).
        """
        if start is not None and not _history_key(member_id, start):
            raise errors.BadRequest("The cursor is not one this API issued.", code="invalid_cursor",
                                    details={"parameter": "cursor"})
        transfers: list[Transfer] = []
        for _ in range(HISTORY_READS):
            page = LedgerTable._get_connection().query(f"MEMBER#{member_id}", index_name="history",
                                                       limit=limit - len(transfers), scan_index_forward=False,
                                                       exclusive_start_key=start)
            found = [_from_item(TransferItem.from_raw_data(raw)) for raw in page.get("Items", [])]
            transfers += [t for t in found if brand_id is None or model.brand_of(t) == brand_id]
            start = page.get("LastEvaluatedKey")
            if not start or len(transfers) >= limit:
                break
        return transfers, start

    # -- writes -----------------------------------------------------------------------------

    def commit(self, transfer: Transfer, now: datetime, guards: tuple[Guard, ...] = ()) -> tuple[Transfer, bool]:
        """Apply and record ``transfer`` atomically; returns (stored transfer, newly applied).
        ``guards`` are written in the same transaction and refuse it if they moved."""
        check_shape(transfer)
        if is_member(transfer.credit) and not is_member(transfer.debit) and transfer.code != Code.REVERSE:
            return self._commit_credit(replace(transfer, timestamp=now), guards)
        if guards:
            raise model.InvalidTransfer("guards go with credits from a system account")
        return self._commit_decided(replace(transfer, timestamp=now), now)

    def _transaction(self) -> TransactWrite:
        return TransactWrite(connection=self.connection)

    def _commit_credit(self, transfer: Transfer, guards: tuple[Guard, ...] = ()) -> tuple[Transfer, bool]:
        """A credit from a system account: no read, one transaction (see :meth:`_write_credits`)."""

        def refused():
            existing = self.transfer(transfer.id)
            if existing is not None:
                return _replay(existing, transfer)
            guard_items.check(guards)
            return None

        return self._credit([transfer], guards, refused) or (transfer, True)

    def commit_all(self, transfers: list[Transfer], now: datetime, guards: tuple[Guard, ...] = ()) -> list[Transfer]:
        """Several new credits of one member from system accounts (an event's grants) and their
        guards in one transaction: the transfers, and the book, each lot, brand share and month
        written once for all of them. :class:`NotAllNew` if one is stored already (nothing is
        written: the caller commits them one by one, each a replay or new)."""
        transfers = [replace(t, timestamp=now) for t in transfers]
        model.check_credits(transfers)

        def refused():
            guard_items.check(guards)  # first: a moved guard (a budget others share) is the common cause
            if any(self._item(t.id) is not None for t in transfers):
                raise NotAllNew("a transfer of the batch is stored already")

        self._credit(transfers, guards, refused)
        return transfers

    def _credit(self, transfers: list[Transfer], guards: tuple[Guard, ...], refused: Callable[[], Any]) -> Any:
        """Commit credits of one member and their guards in one transaction, retried with
        backoff. After a refused write ``refused()`` returns what to answer instead (a replay),
        raises (a moved guard), or returns None: the book had a lot debt (settled here) or a
        transaction raced ours, so try again. None once committed."""
        member_id = _member_id(transfers[0].credit)
        for attempt in range(ATTEMPTS):
            try:
                with self._transaction() as tx:
                    self._write_credits(tx, member_id, transfers)
                    guard_items.write(tx, guards)
            except TransactWriteError as e:
                refuse_if_permanent(e)
                answer = refused()
                if answer is not None:
                    return answer
                self.settle(member_id)
                backoff(attempt)
                continue
            for transfer in transfers:
                self.fault("committed", transfer)
            return None
        raise Contention("The member's points are changing too fast; try again.")

    def _write_credits(self, tx: TransactWrite, member_id: str, transfers: list[Transfer]) -> None:
        """Put each transfer (on condition it is new) and add them up into the member's items,
        each written once however many transfers: the book (``credits_posted``,
        ``lifetime_earned``, ``version``; refused while it has a lot debt), a lot per expiry
        and availability, a share per brand, earnings per month. No read."""
        lots: dict[str, list] = {}  # lot id -> [points, expires_at, available_at]
        shares: dict[str, list[int]] = {}  # brand -> [issued, taken back]
        months: dict[str, int] = {}
        for transfer in transfers:
            tx.save(_to_item(transfer), condition=TransferItem.pk.does_not_exist())
            expires_at, available_at = transfer.lot_dates(transfer.timestamp)
            lots.setdefault(model.lot_id(expires_at, available_at), [0, expires_at, available_at])[0] += transfer.amount
            delta = model.brand_share_delta(transfer, transfer.credit)
            if delta is not None:
                share = shares.setdefault(delta[0], [0, 0])
                share[0], share[1] = share[0] + delta[1], share[1] + delta[2]
            month = model.earned_month(transfer, None, None)
            if month:
                months[month[0]] = months.get(month[0], 0) + month[1]
        earned = sum(t.amount for t in transfers if t.code == Code.EARN)
        tx.update(BookItem(*BookItem.key_for(member_id)),
                  actions=[BookItem.credits_posted.add(sum(t.amount for t in transfers)),
                           BookItem.lifetime_earned.add(earned), BookItem.version.add(1)],
                  condition=BookItem.lot_debt.does_not_exist())
        for lot_id, (points, expires_at, available_at) in lots.items():
            actions = [LotItem.amount.add(points), LotItem.remaining.add(points)]
            if expires_at:
                gsi2pk, gsi2sk = expiry_key(member_id, lot_id, expires_at)
                actions += [LotItem.expires_at.set(expires_at), LotItem.gsi2pk.set(gsi2pk),
                            LotItem.gsi2sk.set(gsi2sk)]
            actions += [LotItem.available_at.set(available_at)] if available_at else []
            tx.update(LotItem(*LotItem.key_for(member_id, lot_id)), actions=actions)
        for brand_id, (issued, taken) in shares.items():
            self._write_share(tx, member_id, (brand_id, issued, taken))
        for month, points in months.items():
            tx.update(EarnedItem(*EarnedItem.key_for(member_id, month)), actions=[EarnedItem.points.add(points)])

    def _commit_decided(self, transfer: Transfer, now: datetime) -> tuple[Transfer, bool]:
        """Read, let the model decide, write conditioned on what was read."""
        members = [_member_id(a) for a in (transfer.debit, transfer.credit) if is_member(a)]
        for attempt in range(ATTEMPTS):
            try:  # no read of the transfer first: a replay shows up as a refusal below
                pending_original = None
                if transfer.post_pending_id or transfer.void_pending_id:
                    pending_original = self.transfer(transfer.post_pending_id or transfer.void_pending_id)
                    if pending_original is None:
                        raise PendingTransferNotFound(transfer.post_pending_id or transfer.void_pending_id)
                original = self._reversal_original(transfer) if transfer.code == Code.REVERSE else None
                parts = {member_id: self._settled(member_id) for member_id in members}
                after = {member_id: apply_to_member(part.book, transfer, now, pending_original)
                         for member_id, part in parts.items()}
            except model.LedgerError:
                existing = self.transfer(transfer.id)
                if existing is not None:  # already applied: the books moved on since, by this very transfer
                    return _replay(existing, transfer)
                raise
            self.fault("read", transfer)
            debts: list[str] = []
            try:
                with self._transaction() as tx:
                    tx.save(_to_item(transfer), condition=TransferItem.pk.does_not_exist())
                    if len(members) == 2:
                        tx.save(_to_item(transfer, "CREDIT"), condition=TransferItem.pk.does_not_exist())
                    first = transfer.meta().get("lot") if transfer.code == Code.REVERSE else None
                    for member_id, part in parts.items():
                        if self._write_book(tx, member_id, part, after[member_id], now, first):
                            debts.append(member_id)
                    if original is not None:
                        self._write_earned(tx, _member_id(transfer.debit), transfer, original)
                        seen = original.reversed
                        tx.update(original, actions=[TransferItem.reversed.add(transfer.reversal_requested)],
                                  condition=TransferItem.reversed.does_not_exist() if seen is None
                                  else TransferItem.reversed == seen)
            except TransactWriteError as e:
                refuse_if_permanent(e)
                existing = self.transfer(transfer.id)
                if existing is not None:
                    return _replay(existing, transfer)
                backoff(attempt)  # the books changed after our read: decide again
                continue
            self.fault("committed", transfer)
            for member_id in debts:
                self.settle(member_id)
            return transfer, True
        raise Contention("The member's points are changing too fast; try again.")

    @staticmethod
    def _write_earned(tx: TransactWrite, member_id: str, transfer: Transfer, original: TransferItem | None) -> None:
        delta = model.earned_month(transfer, original.code if original else None,
                                   original.timestamp if original else None)
        if delta:
            tx.update(EarnedItem(*EarnedItem.key_for(member_id, delta[0])), actions=[EarnedItem.points.add(delta[1])])

    def earned_by_month(self, member_id: str, first: str, last: str) -> dict[str, int]:
        """Points earned per UTC month ``first``..``last`` (``yyyy-mm``): one Query."""
        return {item.sk.removeprefix("EARNED#"): int(item.points) for item in EarnedItem.query(
            account_pk(member_id), EarnedItem.sk.between(f"EARNED#{first}", f"EARNED#{last}"))}

    def earned_by_months(self, member_ids: list[str], first: str, last: str) -> dict[str, dict[str, int]]:
        """:meth:`earned_by_month` of many members: one strongly consistent BatchGetItem of their
        month items per 100 keys, not a Query per member."""
        found: dict[str, dict[str, int]] = {m: {} for m in member_ids}
        keys = [EarnedItem.key_for(m, month) for m in dict.fromkeys(member_ids) for month in model.months(first, last)]
        for start in range(0, len(keys), 100):
            for item in EarnedItem.batch_get(keys[start:start + 100], consistent_read=True):
                found[item.pk.removeprefix("ACCT#")][item.sk.removeprefix("EARNED#")] = int(item.points)
        return found

    def _reversal_original(self, transfer: Transfer) -> TransferItem:
        original = self._item(transfer.meta().get("reverses", ""))
        if original is None:
            raise PendingTransferNotFound(transfer.meta().get("reverses", ""))
        if int(original.reversed or 0) + transfer.reversal_requested > original.amount:
            raise StaleDecision(f"{transfer.meta()['reverses']} has less left to reverse than "
                                f"{transfer.reversal_requested}")
        return original

    @staticmethod
    def _write_share(tx: TransactWrite, member_id: str, delta: tuple[str, int, int] | None) -> None:
        """Move a brand's share with ``ADD``; a take-back on condition the brand's outstanding
        points cover it, checked by DynamoDB in this transaction, not only by the read before."""
        if delta is None:
            return
        brand_id, issued, taken = delta
        net = issued - taken
        tx.update(BrandShareItem(*BrandShareItem.key_for(member_id, brand_id)),
                  actions=[BrandShareItem.issued.add(issued), BrandShareItem.taken_back.add(taken),
                           BrandShareItem.outstanding.add(net)],
                  condition=BrandShareItem.outstanding >= -net if net < 0 else None)

    def _settled(self, member_id: str) -> Partition:
        part = self.partition(member_id)
        while part.debt:
            self.settle(member_id)
            part = self.partition(member_id)
        return part

    def _write_book(self, tx: TransactWrite, member_id: str, part: Partition, after: MemberBook,
                    now: datetime, first: str | None = None) -> bool:
        """Add the member's new state to ``tx``; True if it leaves a lot debt to settle."""
        debt = self._write_lots(tx, member_id, part.book.lots, after.lots, first)
        actions = [BookItem.credits_posted.set(after.credits_posted), BookItem.debits_posted.set(after.debits_posted),
                   BookItem.debits_pending.set(after.debits_pending),
                   BookItem.lifetime_earned.set(after.lifetime_earned), BookItem.version.set((part.version or 0) + 1)]
        actions += [BookItem.lot_debt.set(debt), BookItem.lot_debt_at.set(now)] if debt else []
        condition = BookItem.pk.does_not_exist() if part.version is None else BookItem.version == part.version
        tx.update(BookItem(*BookItem.key_for(member_id)), actions=actions, condition=condition)
        for share in set(after.brands) - set(part.book.brands):
            before = part.book.share(share.brand_id)
            self._write_share(tx, member_id, (share.brand_id, share.issued - before.issued,
                                              share.taken_back - before.taken_back))
        before_holds, after_holds = set(part.book.holds), set(after.holds)
        for hold in after_holds - before_holds:
            tx.save(HoldItem(*HoldItem.key_for(member_id, hold.id), amount=hold.amount))
        for hold in before_holds - after_holds:
            tx.delete(HoldItem(*HoldItem.key_for(member_id, hold.id)))
        return bool(debt)

    def _write_lots(self, tx: TransactWrite, member_id: str, before: tuple[Lot, ...],
                    after: tuple[Lot, ...], first: str | None = None) -> int:
        """Write lot changes, soonest-consumed first, up to the per-transaction limit.

        Returns the points of the changes left unwritten: they are all takes by one debit in
        consumption order, so "take this many more, soonest-expiring first" describes them.
        ``first`` is a lot the debit took from before all others (a reversal's own lot).
        """
        old, new = {lot.id: lot for lot in before}, {lot.id: lot for lot in after}
        changed = sorted((lot_id for lot_id in old.keys() | new.keys() if old.get(lot_id) != new.get(lot_id)),
                         key=lambda lot_id: (lot_id != first, model._lot_order(old.get(lot_id) or new[lot_id])))
        for lot_id in changed[:self.lots_per_transaction]:
            lot = new.get(lot_id)
            if lot is None:
                tx.delete(LotItem(*LotItem.key_for(member_id, lot_id)))
            else:
                gsi2pk, gsi2sk = expiry_key(member_id, lot_id, lot.expires_at) if lot.expires_at else (None, None)
                tx.save(LotItem(*LotItem.key_for(member_id, lot_id), amount=lot.amount, remaining=lot.remaining,
                                expires_at=lot.expires_at, available_at=lot.available_at, gsi2pk=gsi2pk,
                                gsi2sk=gsi2sk))
        return sum(old[lot_id].remaining - (new[lot_id].remaining if lot_id in new else 0)
                   for lot_id in changed[self.lots_per_transaction:])

    def settle(self, member_id: str) -> None:
        """Pay down a lot debt left by a large debit, a transaction at a time."""
        for attempt in range(ATTEMPTS):
            part = self.partition(member_id)
            if not part.debt:
                return
            try:
                with self._transaction() as tx:
                    left = self._write_lots(tx, member_id, part.stored.lots, part.book.lots)
                    actions = [BookItem.version.set(part.version + 1)]
                    actions += [BookItem.lot_debt.set(left)] if left else \
                        [BookItem.lot_debt.remove(), BookItem.lot_debt_at.remove()]
                    tx.update(BookItem(*BookItem.key_for(member_id)), actions=actions,
                              condition=BookItem.version == part.version)
            except TransactWriteError as e:
                refuse_if_permanent(e)
                backoff(attempt)
                continue
            self.settlements += 1
        raise Contention("The member's points are changing too fast; try again.")
