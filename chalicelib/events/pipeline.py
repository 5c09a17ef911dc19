"""The earn pipeline's core: one accepted event in, its grants out, exactly once.

No AWS here: the pipeline works on a :class:`~chalicelib.ledger.service.Ledger`, its own
:class:`~chalicelib.events.decisions.Decisions` (claims and the guards they advance), a ruleset
source and a member-facts source, so the same code runs on DynamoDB in Lambda and on the
in-memory stores in the simulation tests.

1. **Decide once.** The event's counters (per brand, member and event type) are read, the
   event is evaluated against the brand's live ruleset, and the decision (which activity
   versions pay how much, before limits) is stored as a claim *in the same transaction*
   that advances the counters. A redelivery finds the claim and reuses it: re-evaluating could
   differ (the counters, tier or ruleset moved), and the counters must move once per event.
2. **Grant the outcomes.** Each transfer id derives from (event, activity, version, outcome
   index). A first delivery (its own fresh decision cannot have grants yet) reads every
   outcome's limits and budgets in one batch, decides them (:mod:`chalicelib.rules.limits`)
   and commits all the grants with their guards in one ledger write. A redelivery, or grants
   that cannot go together (a shared guard, a guard that moved, a refused write), go one by
   one: a transfer that exists is the result; otherwise limits are read and decided and the
   grant commits with its guards; a guard that moved meanwhile means decide again.
3. The caller records the result on the event and sends follow-up messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from chalicelib import errors
from chalicelib.events.decisions import Decisions
from chalicelib.guards import Guard
from chalicelib.ledger import model
from chalicelib.ledger.model import GuardChanged
from chalicelib.ledger.service import Ledger
from chalicelib.rules import counters, limits
from chalicelib.rules.engine import Ruleset

ATTEMPTS = 32  # fresh reads of guards under contention before the message is retried by SQS


class Contention(model.StaleDecision):
    """Guards kept moving: the message goes back to the queue and is retried later."""

    retryable = True


class AlreadyReversed(errors.Conflict):
    code = "already_reversed"


@dataclass(frozen=True)
class Event:
    id: str
    brand_id: str
    member_id: str
    type: str
    occurred_at: datetime
    attributes: dict[str, Any]
    channel: str | None = None

    def as_facts(self) -> dict[str, Any]:
        event = {"id": self.id, "type": self.type, "attributes": self.attributes,
                 "occurred_at": self.occurred_at.isoformat()}
        if self.channel:
            event["channel"] = self.channel
        return event


@dataclass(frozen=True)
class Bounds:
    """The most points an event may move: per grant (when its activity sets no ``max_points``)
    and for the whole event. An event over either is rejected whole, before any point moves,
    and counts for nothing (a purchase of 10^15 euros is a mistake or an attack, not a sale)."""

    per_grant: int = 1_000_000
    per_event: int = 5_000_000

    def breach(self, outcomes) -> dict[str, Any] | None:
        """What an evaluation's outcomes exceed, or None."""
        for o in outcomes:
            if o.activity.reward.max_points is None and o.points > self.per_grant:
                return {"activity_id": o.activity_id, "points": o.points, "maximum": self.per_grant,
                        "limit": "per_grant"}
        total = sum(o.points for o in outcomes)
        if total > self.per_event:
            return {"points": total, "maximum": self.per_event, "limit": "per_event"}
        return None


_read_ahead: ContextVar[dict[str, tuple[int, dict]] | None] = ContextVar("counters_read_ahead", default=None)


@contextmanager
def counters_read_for_batch(decisions: Decisions, events: list[Event]) -> Iterator[None]:
    """Within: each event's decision starts from its counters as read for the whole batch in
    one request, not one read per event. The claim is conditioned on the version read, so a
    stale one (another container counted an event meanwhile) costs a retry, never a wrong
    count; an event's claim moves the batch's copy on for its batch-mates of the same member
    and type. If the read fails, each event reads its own."""
    known = None
    keys = list(dict.fromkeys(counters.key(e.brand_id, e.member_id, e.type) for e in events))
    if keys:
        try:
            known = dict(decisions.read_guards(keys))
        except Exception:  # each decision reads for itself
            known = None
    token = _read_ahead.set(known)
    try:
        yield
    finally:
        _read_ahead.reset(token)


def grant_id(event_id: str, activity_id: str, version: int, index: int) -> str:
    return model.transfer_id("earn", event_id, activity_id, version, index)


def _grant_id(event: Event, outcome: dict[str, Any]) -> str:
    return grant_id(event.id, outcome["activity_id"], outcome["activity_version"], outcome["index"])


def _base(outcome: dict[str, Any]) -> dict[str, Any]:
    return {"activity_id": outcome["activity_id"], "activity_version": outcome["activity_version"],
            "requested_points": outcome["points"]}


def _granted(outcome: dict[str, Any], transfer: model.Transfer, reason: str | None) -> dict[str, Any]:
    return {**_base(outcome), "points": transfer.amount, "transfer_id": transfer.id, "status": "granted",
            **({"reason": reason} if reason else {})}


def _skipped(outcome: dict[str, Any], reason: str | None) -> dict[str, Any]:
    return {**_base(outcome), "points": 0, "transfer_id": None, "status": "skipped", "reason": reason}


class Pipeline:
    """Decides each event once (:attr:`decisions`: claims and the counters they advance) and
    pays its outcomes through the ledger, within their limits."""

    def __init__(self, ledger: Ledger, decisions: Decisions, rulesets: Callable[[str], Ruleset],
                 member_facts: Callable[[str, datetime], dict[str, Any]], zone, bounds: Bounds = Bounds()) -> None:
        self.ledger, self.decisions, self.rulesets, self.member_facts = ledger, decisions, rulesets, member_facts
        self.zone, self.bounds = zone, bounds

    def decide(self, event: Event) -> tuple[dict[str, Any], bool]:
        """(the event's decision, made and stored once with the counters it advances; whether
        this call made it). No read of the claim first: a first delivery (the common case)
        evaluates and claims, and a redelivery's claim finds the stored decision instead."""
        key, nonce, known = f"event:{event.id}", uuid.uuid4().hex, _read_ahead.get()
        counter_key = counters.key(event.brand_id, event.member_id, event.type)
        for attempt in range(ATTEMPTS):
            member = self.member_facts(event.member_id, event.occurred_at)
            if not member:
                stored = self.decisions.claim(key, {"status": "rejected", "reason": "member_not_found", "outcomes": [],
                                                "nonce": nonce})
                return stored, stored.get("nonce") == nonce
            if attempt == 0 and known is not None and counter_key in known:
                version, before = known[counter_key]  # read for the batch; a stale one costs a retry
            else:
                version, before = self.decisions.read_guards([counter_key])[counter_key]
            after = counters.advance(before, event.as_facts(), event.occurred_at, self.zone)
            member = {**member, **counters.facts({event.type: before}, {event.type: after})}
            ruleset = self.rulesets(event.brand_id)
            evaluation = ruleset.evaluate(event.as_facts(), member, event.occurred_at,
                                          stats=counters.stats(before, after))
            breach = self.bounds.breach(evaluation.outcomes)
            if breach is not None:  # stored without the counters' guard: the event counts for nothing
                stored = self.decisions.claim(key, {"status": "rejected", "reason": "points_over_maximum",
                                                "details": breach, "outcomes": [], "nonce": nonce})
                return stored, stored.get("nonce") == nonce
            decision = {"status": "processed", "ruleset": str(ruleset.version), "nonce": nonce, "outcomes": [
                {"activity_id": o.activity_id, "activity_version": o.version, "activity_name": o.activity.name,
                 "activity_channel": o.activity.channel, "index": o.index, "points": o.points,
                 "pending_for": o.pending_for, "expires_after": o.expires_after,
                 "limits": limits.Subject.of(o.activity).to_json() if o.activity.limits else None}
                for o in evaluation.outcomes]}
            try:
                stored = self.decisions.claim(key, decision, (Guard(counter_key, version, after),))
            except GuardChanged:
                continue  # another event of this member and type was counted first
            if known is not None and stored.get("nonce") == nonce:
                known[counter_key] = (version + 1, after)  # where the batch's next such event starts
            return stored, stored.get("nonce") == nonce
        raise Contention("the member's counters kept moving")

    def grant(self, event: Event, outcome: dict[str, Any]) -> dict[str, Any]:
        """Pay one outcome of the decision (within its limits); idempotent: a grant stored
        already (a redelivery, or one landed meanwhile) is the result."""
        transfer_id = _grant_id(event, outcome)
        subject = limits.Subject.from_json(outcome["limits"]) if outcome.get("limits") else None
        for _ in range(ATTEMPTS):
            existing = self.ledger.store.transfer(transfer_id)
            if existing is not None:
                return _granted(outcome, existing, existing.meta().get("limited_by"))
            states = self.decisions.read_guards(limits.guard_keys(subject, event.member_id)) if subject else {}
            transfer, guards, reason = self._plan(event, outcome, subject, states)
            if transfer is None:
                return _skipped(outcome, reason)
            try:
                transfer = self.ledger.commit(transfer, guards)
            except GuardChanged:
                continue  # a concurrent grant counted against the same limit: decide again
            return _granted(outcome, transfer, reason)
        raise Contention("the activity's limits kept moving")

    def grant_together(self, event: Event, outcomes: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Pay every outcome of a fresh decision in one ledger write (their limits read in one
        batch; a guard that moved meanwhile means read and decide again), or None when they
        cannot go together: outcomes sharing a limit's guard, a grant stored already, a write
        refused, guards that kept moving. The caller then grants them one by one (reading
        first), which sorts each case out on its own."""
        subjects = [limits.Subject.from_json(o["limits"]) if o.get("limits") else None for o in outcomes]
        keys = [limits.guard_keys(s, event.member_id) if s else [] for s in subjects]
        every = [k for ks in keys for k in ks]
        if len(every) != len(set(every)) or len(outcomes) > model.MAX_BATCH:
            return None
        for _ in range(ATTEMPTS):
            states = self.decisions.read_guards(every) if every else {}
            results, transfers, guards = [], [], ()
            for outcome, subject in zip(outcomes, subjects, strict=True):
                transfer, more, reason = self._plan(event, outcome, subject, states)
                results.append(_skipped(outcome, reason) if transfer is None else (outcome, reason))
                if transfer is not None:
                    transfers.append(transfer)
                    guards += more
            if not transfers:
                return results
            try:
                stored = iter(self.ledger.grant_all(transfers, guards))
            except GuardChanged:
                continue  # another event counted against a shared limit (a budget): nothing written, decide again
            except model.StaleDecision:  # NotAllNew: a grant is stored already (an ambiguous earlier try)
                return None
            except errors.PunchcardError as e:
                if errors.is_permanent(e):
                    return None  # one by one, each outcome gets its own verdict
                raise
            return [_granted(r[0], next(stored), r[1]) if isinstance(r, tuple) else r for r in results]
        return None

    def _plan(self, event: Event, outcome: dict[str, Any], subject,
              states) -> tuple[model.Transfer | None, tuple, str | None]:
        """(the grant of ``outcome`` within its limits, or None when they leave nothing; the
        guards it commits with; the limit that cut it) from the guards read (``states``)."""
        transfer_id, points, guards, reason = _grant_id(event, outcome), outcome["points"], (), None
        if subject is not None:
            decision = limits.decide(subject, event.member_id, points, event.occurred_at, transfer_id,
                                     {k: states[k] for k in limits.guard_keys(subject, event.member_id)})
            points, guards, reason = decision.points, decision.guards, decision.reason
        if points <= 0:
            return None, (), reason
        metadata = (("event_id", event.id), ("activity_id", outcome["activity_id"]),
                    ("activity_version", str(outcome["activity_version"]))) + \
            ((("activity_name", outcome["activity_name"]),) if outcome.get("activity_name") else ()) + \
            ((("limited_by", reason),) if reason else ())
        transfer = self.ledger.earning(transfer_id, event.member_id, event.brand_id, points, reference=event.id,
                                       expires_after=outcome.get("expires_after"),
                                       available_after=outcome.get("pending_for"), metadata=metadata)
        return transfer, guards, reason

    def process(self, event: Event) -> dict[str, Any]:
        """Decide and grant: ``{status, outcomes, reason?}`` to record on the event."""
        decision, fresh = self.decide(event)
        if decision["status"] == "rejected":
            return {"status": "rejected", "reason": decision["reason"], "outcomes": [],
                    **({"details": decision["details"]} if decision.get("details") else {})}
        # where the event came from: as sent, else the channel of the first activity it matched
        channel = event.channel or next((o["activity_channel"] for o in decision["outcomes"]
                                         if o.get("activity_channel")), None)
        outcomes = self.grant_together(event, decision["outcomes"]) if fresh and decision["outcomes"] else None
        if outcomes is None:  # a redelivery, or grants that cannot go together: one by one, reading first
            outcomes = [self._settled_grant(event, outcome) for outcome in decision["outcomes"]]
        return {"status": "processed", "channel": channel, "outcomes": outcomes}

    def _settled_grant(self, event: Event, outcome: dict[str, Any]) -> dict[str, Any]:
        """:meth:`grant`, or the outcome ``rejected`` with its reason when no retry could pay
        it (its batch-mates in the decision are paid all the same)."""
        try:
            return self.grant(event, outcome)
        except errors.PunchcardError as e:
            if not errors.is_permanent(e):
                raise
            return {**_base(outcome), "points": 0, "transfer_id": None, "status": "rejected", "reason": e.code}

    def reverse(self, event: Event, granted: list[dict[str, Any]], key: str, amount: Decimal | None,
                event_amount: Decimal | None) -> dict[str, Any]:
        """Refund the event, all of it (``amount`` None) or ``amount`` of its ``attributes.amount``:
        each grant it caused is reversed in proportion, and never beyond what it paid.

        What a request covers is decided once (a claim under ``key``, with a guard counting what
        the event has refunded so far), so a retried request reverses exactly the same points.
        Cumulative targets (``floor(points * refunded / amount)``) keep rounding from drifting:
        partial refunds that add up to the whole reverse every point, no more.
        """
        claim_key, refunds_key = f"event-reversal:{event.id}:{key}", f"refunds:{event.id}"
        plan = self.decisions.claimed(claim_key)
        for _ in range(ATTEMPTS):
            if plan is not None:
                break
            version, state = self.decisions.read_guards([refunds_key])[refunds_key]
            total = event_amount if event_amount is not None else Decimal(1)
            before = Decimal(state.get("refunded", "0"))
            if before >= total:
                raise AlreadyReversed("This event has been reversed in full already.", details={"event_id": event.id})
            if amount is not None and event_amount is None:
                raise model.InvalidTransfer("A partial reversal needs the event's attributes.amount to share out.")
            after = total if amount is None else min(total, before + amount)
            request = {"amount": None if amount is None else str(amount), "refunded_before": str(before),
                       "refunded_after": str(after), "event_amount": str(total)}
            try:
                refunded = Guard(refunds_key, version, {"refunded": str(after)})
                plan = self.decisions.claim(claim_key, request, (refunded,))
            except GuardChanged:
                continue
        if plan is None:
            raise Contention("the event's refunds kept moving")
        if plan["amount"] != (None if amount is None else str(amount)):
            raise model.ExistsWithDifferentFields(details={"id": key})
        total, before, after = (Decimal(plan[k]) for k in ("event_amount", "refunded_before", "refunded_after"))
        reversals = []
        for outcome in granted:
            if not outcome.get("transfer_id"):
                continue
            points = Decimal(outcome["points"])
            part = int((points * after / total).to_integral_value(ROUND_FLOOR)) - \
                int((points * before / total).to_integral_value(ROUND_FLOOR))
            if part <= 0:
                continue
            reversal = self.ledger.reverse(model.transfer_id(claim_key, outcome["transfer_id"]),
                                           outcome["transfer_id"], part)
            reversals.append({"transfer_id": reversal.id, "reverses": outcome["transfer_id"],
                              "points": reversal.amount, "shortfall": int(reversal.meta().get("shortfall", "0"))})
        return {"id": key, "amount": plan["amount"], "refunded": str(after),
                "points": sum(r["points"] for r in reversals),
                "reversals": reversals}
