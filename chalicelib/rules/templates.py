"""Ready-made activities for the behaviours brands ask for most.

A template is a function of a few named parameters (each with a default) that returns one or
more ``ActivityInput`` documents, created as drafts for the brand to review and activate.
Event types and attribute names are the ones the templates document; a brand sends events
with those names (or edits the activity).

Milestones and streaks use the reward's ``milestone``: the earn pipeline counts each member's
events per type (:mod:`chalicelib.rules.counters`) exactly once, and the milestone pays on
the event that carries the count (or the streak) across its mark.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib import errors


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # integer | number | string
    default: Any
    description: str
    minimum: float | None = 0
    choices: tuple[str, ...] | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    channel: str
    parameters: tuple[Parameter, ...]
    build: Callable[..., list[dict[str, Any]]]

    def render(self, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The template's activities for ``values`` (defaults for any not given)."""
        values = dict(values or {})
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise errors.ValidationFailed(f"/parameters/{unknown[0]}: not a parameter of {self.id}",
                                          details={"pointer": f"/parameters/{unknown[0]}", "rule": "unknown"})
        final = {}
        for name, parameter in known.items():
            value = values.get(name, parameter.default)
            if not _fits(value, parameter):
                expected = f"one of {', '.join(parameter.choices)}" if parameter.choices else \
                    f"a {parameter.kind}" + (f" >= {parameter.minimum}" if parameter.minimum is not None else "")
                raise errors.ValidationFailed(f"/parameters/{name}: expected {expected}",
                                              details={"pointer": f"/parameters/{name}", "rule": "type"})
            final[name] = value
        return self.build(**final)


def _fits(value: Any, parameter: Parameter) -> bool:
    if parameter.kind == "string":
        if not isinstance(value, str) or not 0 < len(value) <= 64:
            return False
        if parameter.choices is not None:
            return value in parameter.choices
        return parameter.pattern is None or re.fullmatch(parameter.pattern, value) is not None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if parameter.kind == "integer" and not isinstance(value, int):
        return False
    return parameter.minimum is None or value >= parameter.minimum


def _activity(name: str, channel: str, event: str, reward: dict, *, conditions: dict | None = None,
              limits: list | None = None, description: str = "", **extra: Any) -> dict[str, Any]:
    activity = {"name": name, "description": description, "channel": channel, "status": "draft",
                "trigger": {"event": event}, "reward": reward, **extra}
    if conditions:
        activity["conditions"] = conditions
    if limits:
        activity["limits"] = limits
    return activity


def _once() -> list[dict]:
    return [{"scope": "member", "period": "forever", "max_times": 1}]


def _purchase(points_per_unit: float, unit: float, return_window_days: int, channel: str) -> list[dict]:
    extra = {"pending_for": f"P{return_window_days}D"} if return_window_days else {}
    return [_activity("Points for every purchase", channel, "purchase",
                      {"per_unit": {"fact": "event.attributes.amount", "points": points_per_unit, "unit": unit,
                                    "rounding": "floor"}},
                      description="Points per unit of the purchase amount, pending during the return window.",
                      **extra)]


def _newsletter(points: int) -> list[dict]:
    return [_activity("Newsletter sign-up", "newsletter", "newsletter.signup", {"points": points}, limits=_once())]


def _profile(points: int) -> list[dict]:
    return [_activity("Complete your profile", "profile", "profile.completed", {"points": points}, limits=_once())]


def _referral(referrer_points: int, friend_points: int, max_referrals: int) -> list[dict]:
    return [
        _activity("Refer a friend", "referral", "referral.completed", {"points": referrer_points},
                  description="For the member who referred, when the friend completes their first purchase.",
                  limits=[{"scope": "member", "period": "forever", "max_times": max_referrals}]),
        _activity("Welcome, referred friend", "referral", "referral.joined", {"points": friend_points},
                  description="For the new member who joined through a referral link.", limits=_once()),
    ]


def _social(network: str, action: str, points: int, per_day: int) -> list[dict]:
    channel = "twitter" if network == "x" else network
    return [_activity(f"{action.capitalize()} our post on {network}", channel, f"social.{action}",
                      {"points": points}, conditions={"fact": "event.attributes.network", "operator": "==",
                                                      "value": network},
                      limits=[{"scope": "member", "period": "day", "max_times": per_day}])]


def _account_opened(points_per_unit: float, unit: float, max_points: int) -> list[dict]:
    return [_activity("Open an account", "banking", "account.opened",
                      {"per_unit": {"fact": "event.attributes.opening_deposit", "points": points_per_unit,
                                    "unit": unit}, "max_points": max_points},
                      description="Scaled by the opening deposit, capped.", limits=_once())]


def _balance_check(threshold: float, points: int) -> list[dict]:
    return [_activity("Keep your balance above the threshold", "banking", "balance.daily_check", {"points": points},
                      conditions={"fact": "event.attributes.balance", "operator": ">=", "value": threshold},
                      limits=[{"scope": "member", "period": "day", "max_times": 1}])]


def _direct_deposit(points: int) -> list[dict]:
    return [_activity("Set up a direct deposit", "banking", "direct_deposit.setup", {"points": points},
                      limits=_once())]


def _deposit(minimum: float, points: int, per_month: int) -> list[dict]:
    return [_activity(f"Deposit at least {minimum:g}", "banking", "deposit",
                      {"points": points},
                      conditions={"fact": "event.attributes.amount", "operator": ">=", "value": minimum},
                      limits=[{"scope": "member", "period": "month", "max_times": per_month}])]


def _milestone(event: str, nth: int, points: int) -> list[dict]:
    return [_activity(f"Bonus on your {_ordinal(nth)} {event}", "other", event,
                      {"points": points, "milestone": {"metric": "count", "at": nth}},
                      description=f"Once, on the member's {_ordinal(nth)} {event} event.", limits=_once())]


def _streak(event: str, days: int, points: int) -> list[dict]:
    return [_activity(f"{days}-day {event} streak", "app", event,
                      {"points": points, "milestone": {"metric": "days", "at": days, "repeat": True}},
                      description=f"Every {days} consecutive days with a {event} event.")]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


P = Parameter
TEMPLATES: dict[str, Template] = {t.id: t for t in (
    Template("purchase", "Purchase: points per amount", "N points per unit spent, pending for the return window.",
             "online", (P("points_per_unit", "number", 1, "points per unit of amount", 0.0001),
                        P("unit", "number", 1, "the amount that earns points_per_unit", 0.0001),
                        P("return_window_days", "integer", 14, "days points stay pending"),
                        P("channel", "string", "online", "where", None, ("online", "in_store"))), _purchase),
    Template("newsletter", "Newsletter sign-up", "Points once for subscribing.", "newsletter",
             (P("points", "integer", 50, "points, once", 1),), _newsletter),
    Template("profile", "Profile completed", "Points once for completing the profile.", "profile",
             (P("points", "integer", 100, "points, once", 1),), _profile),
    Template("referral", "Referral (both sides)", "Points for the referrer and for the friend.", "referral",
             (P("referrer_points", "integer", 500, "for the referrer", 1),
              P("friend_points", "integer", 250, "for the friend", 1),
              P("max_referrals", "integer", 20, "referrals a member is paid for", 1)), _referral),
    Template("social", "Social like, share or retweet", "Points for an action on the brand's posts.", "facebook",
             (P("network", "string", "facebook", "the network", None, ("facebook", "instagram", "x")),
              P("action", "string", "like", "the action", None, ("like", "share", "retweet", "comment")),
              P("points", "integer", 10, "points per action", 1),
              P("per_day", "integer", 3, "paid actions a day", 1)), _social),
    Template("account_opened", "Account opened", "Scaled by the opening deposit, capped.", "banking",
             (P("points_per_unit", "number", 1, "points per unit deposited", 0.0001),
              P("unit", "number", 10, "the deposit that earns points_per_unit", 0.0001),
              P("max_points", "integer", 5000, "cap", 1)), _account_opened),
    Template("balance_check", "Daily balance above a threshold", "Points for each day the balance stays high.",
             "banking", (P("threshold", "number", 1000, "minimum balance"),
                         P("points", "integer", 5, "points a day", 1)), _balance_check),
    Template("direct_deposit", "Direct deposit set up", "Points once for setting up a direct deposit.", "banking",
             (P("points", "integer", 1000, "points, once", 1),), _direct_deposit),
    Template("deposit", "Deposit of at least X", "Points for deposits above a minimum.", "banking",
             (P("minimum", "number", 500, "the smallest deposit that pays"), P("points", "integer", 50, "points", 1),
              P("per_month", "integer", 4, "paid deposits a month", 1)), _deposit),
    Template("milestone", "Nth transaction milestone", "A bonus on the member's Nth event of a type.", "other",
             (P("event", "string", "purchase", "the event type counted", None, pattern=r"[a-z][a-z0-9_.-]{0,63}"),
              P("nth", "integer", 10, "which one pays", 1), P("points", "integer", 250, "bonus", 1)), _milestone),
    Template("streak", "Daily streak", "A bonus every N consecutive days with an event of a type.", "app",
             (P("event", "string", "app.check_in", "the event type counted", None, pattern=r"[a-z][a-z0-9_.-]{0,63}"),
              P("days", "integer", 7, "consecutive days", 2), P("points", "integer", 100, "bonus", 1)), _streak),
)}
