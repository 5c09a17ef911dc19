"""Tiers (levels), pure: which tier the points earned in the qualification window reach, when
a member's qualification lapses, and what the daily review does about it.

A program's tiers are ordered by ``threshold`` (points *earned* in the window, not the
balance); the first has threshold 0, so every member has a tier once tiers are configured.
The window is the last ``window_months`` calendar months (UTC), this one included: earnings
are kept per month by the ledger, exactly once with the grant.

Upgrades happen at once (on the grant that crosses a threshold). Downgrades wait: when the
window no longer holds enough for the current tier — the *lapse* — the member keeps the tier
for ``grace_days`` more, is warned ``warn_days`` before the end, and then moves to the tier
the window supports on that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

DEFAULTS = {"window_months": 12, "grace_days": 30, "warn_days": 14}


@dataclass(frozen=True)
class Tier:
    id: str
    name: str
    threshold: int
    multiplier: Decimal | None = None
    benefits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Program:
    tiers: tuple[Tier, ...]
    window_months: int = 12
    grace_days: int = 30
    warn_days: int = 14

    def rank(self, tier_id: str | None) -> int:
        """Position of ``tier_id`` (-1 if unknown, e.g. a tier since removed)."""
        return next((i for i, t in enumerate(self.tiers) if t.id == tier_id), -1)

    def get(self, tier_id: str | None) -> Tier | None:
        index = self.rank(tier_id)
        return self.tiers[index] if index >= 0 else None

    def qualified(self, earned: int) -> Tier:
        return [t for t in self.tiers if t.threshold <= earned][-1]

    def above(self, tier_id: str | None) -> Tier | None:
        index = self.rank(tier_id)
        return self.tiers[index + 1] if index + 1 < len(self.tiers) else None


class InvalidProgram(ValueError):
    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer


def program(data: dict[str, Any]) -> Program:
    """A checked program from its JSON (already schema-valid: the checks here are the ones a
    schema cannot state)."""
    tiers = data.get("tiers") or []
    if tiers and tiers[0]["threshold"] != 0:
        raise InvalidProgram("/tiers/0/threshold", "The first tier is the one everyone starts in: threshold 0.")
    for i in range(1, len(tiers)):
        if tiers[i]["threshold"] <= tiers[i - 1]["threshold"]:
            raise InvalidProgram(f"/tiers/{i}/threshold", "Thresholds rise strictly from one tier to the next.")
    ids = [t["id"] for t in tiers]
    for i, tier_id in enumerate(ids):
        if tier_id in ids[:i]:
            raise InvalidProgram(f"/tiers/{i}/id", f"Tier id {tier_id!r} is used twice.")
    settings = {**DEFAULTS, **(data.get("qualification") or {})}
    if settings["warn_days"] > settings["grace_days"]:
        raise InvalidProgram("/qualification/warn_days", "The warning comes within the grace period.")
    return Program(tuple(Tier(t["id"], t["name"], int(t["threshold"]),
                              Decimal(str(t["multiplier"])) if t.get("multiplier") is not None else None,
                              tuple(t.get("benefits") or ())) for t in tiers),
                   int(settings["window_months"]), int(settings["grace_days"]), int(settings["warn_days"]))


def month_of(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m}"


def add_months(month: str, n: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def window(program_: Program, at: datetime) -> tuple[str, str]:
    """(first, last) month of the qualification window at ``at``."""
    last = month_of(at)
    return add_months(last, 1 - program_.window_months), last


def earned_in_window(program_: Program, earned_by_month: dict[str, int], at: datetime) -> int:
    first, last = window(program_, at)
    return max(0, sum(points for month, points in earned_by_month.items() if first <= month <= last))


def lapse_date(program_: Program, tier: Tier, earned_by_month: dict[str, int], at: datetime) -> date | None:
    """The first day on which, with nothing more earned, the window no longer holds ``tier``'s
    threshold: months fall out of the window one by one. None if it never lapses (the base)."""
    if tier.threshold == 0:
        return None
    if earned_in_window(program_, earned_by_month, at) < tier.threshold:
        return at.astimezone(UTC).date()
    this = month_of(at)
    for k in range(1, program_.window_months + 1):
        month = add_months(this, k)
        start = datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)
        if earned_in_window(program_, earned_by_month, start) < tier.threshold:
            return start.date()
    return None  # unreachable: after window_months every month counted has fallen out


@dataclass(frozen=True)
class Standing:
    """A member's tier and what is scheduled for it."""

    tier: str | None = None
    since: datetime | None = None
    downgrade_at: date | None = None  # set while the qualification has lapsed or will lapse
    warn_at: date | None = None
    warned_for: date | None = None  # the downgrade date a warning was sent for
    history: tuple[dict, ...] = field(default=())

    @property
    def review_at(self) -> date | None:
        """When the daily review must look at this member next."""
        if self.downgrade_at is None:
            return None
        if self.warn_at is not None and self.warned_for != self.downgrade_at:
            return min(self.warn_at, self.downgrade_at)
        return self.downgrade_at


@dataclass(frozen=True)
class Change:
    standing: Standing
    kind: str | None  # "upgraded" | "downgraded" | "warned" | None
    previous: str | None = None


def current_tier(program_: Program, held_id: str | None, earned_by_month: dict[str, int], at: datetime) -> Tier:
    """The tier a member holds at ``at``: the one their standing records, or the one the window's
    earnings reach when that is as high or higher — what :func:`recompute` makes of a grant, known
    before the standing is written (so an upgrade pays at once, whenever the standing follows)."""
    qualified = program_.qualified(earned_in_window(program_, earned_by_month, at))
    held = program_.get(held_id)
    return qualified if held is None or qualified.threshold >= held.threshold else held


def recompute(program_: Program, current: Standing, earned_by_month: dict[str, int], at: datetime, *,
              review: bool = False) -> Change:
    """The member's standing after a grant (``review=False``: upgrades only) or at the daily
    review (``review=True``: also warnings and downgrades that are due)."""
    earned = earned_in_window(program_, earned_by_month, at)
    qualified = program_.qualified(earned)
    held = program_.get(current.tier)
    today = at.astimezone(UTC).date()
    kind, previous = None, current.tier
    if held is None or qualified.threshold >= held.threshold:
        if held is None or qualified.id != held.id:
            kind = "upgraded" if qualified.threshold > (held.threshold if held else 0) else None
            current = replace(current, tier=qualified.id, since=at, warned_for=None,
                              history=(*current.history, {"tier": qualified.id, "at": at.isoformat(), "why": "earned"}))
        tier = qualified
    else:  # the window supports less than the tier held
        tier = held
        due = current.downgrade_at
        if review and due is not None and today >= due:
            tier = qualified
            kind = "downgraded"
            current = replace(current, tier=qualified.id, since=at, warned_for=None, downgrade_at=None, warn_at=None,
                              history=(*current.history, {"tier": qualified.id, "at": at.isoformat(),
                                                          "why": "downgraded"}))
    lapse = lapse_date(program_, tier, earned_by_month, at)
    if lapse is None:
        schedule = {"downgrade_at": None, "warn_at": None}
    else:
        downgrade = lapse + timedelta(days=program_.grace_days)
        if earned < tier.threshold and kind is None and current.downgrade_at is not None:
            downgrade = min(downgrade, current.downgrade_at)  # lapsed earlier: the grace runs from then
        schedule = {"downgrade_at": downgrade, "warn_at": downgrade - timedelta(days=program_.warn_days)}
    current = replace(current, **schedule)
    if (review and kind is None and current.downgrade_at is not None and current.warn_at is not None
            and today >= current.warn_at and current.warned_for != current.downgrade_at
            and earned < tier.threshold):
        kind = "warned"
        current = replace(current, warned_for=current.downgrade_at)
    return Change(current, kind, previous)


def progress(program_: Program, tier_id: str | None, earned: int) -> dict[str, Any]:
    """``tier``, ``next_tier`` and ``points_to_next_tier`` for a balance reply."""
    if not program_.tiers:
        return {"tier": None, "next_tier": None, "points_to_next_tier": None}
    tier = program_.get(tier_id) or program_.qualified(earned)
    above = program_.above(tier.id)
    return {"tier": tier.id, "next_tier": above.id if above else None,
            "points_to_next_tier": max(0, above.threshold - earned) if above else None}
