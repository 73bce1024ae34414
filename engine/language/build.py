"""Build the typed model (engine/language/model.py) from a validated ruleset's plain data.

The loader gives plain data; validation has already checked shapes and references, so
this module only converts: money and multipliers to Decimal, dates to `date`, defaults
filled in. Nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from engine.language.model import (
    Activity,
    Alerts,
    AutoRedemption,
    Campaign,
    Cashback,
    CustomRule,
    Earning,
    Effect,
    Eligibility,
    Engagement,
    FrequencyCap,
    Limit,
    Milestone,
    MilestoneReward,
    Monthly,
    Notification,
    PointsAccount,
    QuietHours,
    Redemption,
    Reward,
    Rotation,
    Ruleset,
    Schedule,
    Template,
    Tier,
    Tiers,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def dec(value: Any) -> Decimal:
    """Exact Decimal from a YAML/JSON scalar (floats go through their shortest repr)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def opt_dec(value: Any) -> Decimal | None:
    return None if value is None else dec(value)


def to_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def _limit(data: Mapping[str, Any] | None) -> Limit | None:
    return None if not data else Limit(int(data["count"]), str(data.get("per", "lifetime")))



def _tiers(data: Mapping[str, Any] | None) -> Tiers | None:
    if not data:
        return None
    levels = []
    for index, level in enumerate(data.get("levels", [])):
        qual = level.get("qualification", {})
        ben = level.get("benefits", {})
        fst, bday = ben.get("free_shipping_threshold"), ben.get("birthday_discount_percent")
        levels.append(Tier(
            id=level["id"], name=level.get("name", level["id"]), index=index,
            min_spend=dec(qual.get("min_spend", 0)), min_orders=int(qual.get("min_orders", 0)),
            multiplier=dec(ben.get("points_multiplier", 1)),
            free_shipping_threshold=opt_dec(fst), birthday_discount_percent=opt_dec(bday),
            flags=dict(ben.get("flags", {})), upgrade_bonus=int(level.get("upgrade_bonus", 0)),
        ))
    policy = (data.get("downgrade") or {}).get("policy", "end_of_window")
    return Tiers(window=data.get("window", "calendar_year"), downgrade_policy=policy,
                 levels=tuple(levels))


def _earning(data: Mapping[str, Any]) -> Earning:
    exclusions = data.get("exclusions", {})
    activities = {
        name: Activity(name, int(a.get("points", 0)), int(a.get("friend_bonus", 0)),
                       _limit(a.get("limit")))
        for name, a in (data.get("activities") or {}).items()
    }
    cb = data.get("cashback")
    cashback = None
    if cb:
        cashback = Cashback(
            percent=dec(cb.get("percent", 0)),
            categories={k: dec(v) for k, v in (cb.get("categories") or {}).items()},
            tiers={k: dec(v) for k, v in (cb.get("tiers") or {}).items()},
            max_per_order=opt_dec(cb.get("max_per_order")),
        )
    return Earning(
        base_rate=dec(data.get("base_rate", 1)),
        categories={k: dec(v) for k, v in (data.get("categories") or {}).items()},
        excluded_categories=frozenset(exclusions.get("categories", [])),
        exclude_shipping=bool(exclusions.get("shipping", True)),
        exclude_tax=bool(exclusions.get("tax", True)),
        activities=activities, cashback=cashback,
    )


def _rotation(data: Mapping[str, Any]) -> Rotation:
    cap = data.get("cap") or {}
    return Rotation(
        id=str(data["id"]), start=to_date(data["from"]), end=to_date(data["to"]),  # type: ignore[arg-type]
        categories=frozenset(data.get("categories", [])), multiplier=dec(data["multiplier"]),
        cap_spend=opt_dec(cap.get("spend")), cap_period=cap.get("period", "rotation"),
    )


def _schedule(data: Mapping[str, Any] | None) -> Schedule:
    if not data:
        return Schedule()
    days = data.get("days_of_week")
    monthly = data.get("monthly")
    return Schedule(
        start=to_date(data.get("from")), end=to_date(data.get("to")),
        days_of_week=frozenset(WEEKDAYS.index(d) for d in days) if days else None,
        monthly=Monthly(int(monthly["nth"]), WEEKDAYS.index(monthly["weekday"]),
                        int(monthly.get("days", 1))) if monthly else None,
    )


def _fset(values: Any) -> frozenset[str] | None:
    return frozenset(values) if values else None


def _campaign(data: Mapping[str, Any], priority: int) -> Campaign:
    elig = data.get("eligibility") or {}
    return Campaign(
        id=str(data["id"]), name=data.get("name", data["id"]), type=data["type"],
        multiplier=opt_dec(data.get("multiplier")), categories=_fset(data.get("categories")),
        points=int(data.get("points", 0)), threshold=opt_dec(data.get("threshold")),
        friend_bonus=int(data.get("friend_bonus", 0)),
        target_spend=opt_dec(data.get("target_spend")), window_days=data.get("window_days"),
        schedule=_schedule(data.get("schedule")),
        eligibility=Eligibility(
            tiers=_fset(elig.get("tiers")), segments=_fset(elig.get("segments")),
            channels=_fset(elig.get("channels")), min_order=opt_dec(elig.get("min_order")),
        ),
        stacking=data.get("stacking", "combine"), limit_per_member=data.get("limit_per_member"),
        max_points=data.get("max_points"),
        budget_points=(data.get("budget") or {}).get("points"),
        priority=int(data.get("priority", priority)),
        participation=data.get("participation", "open"),
        requires_code=bool(data.get("requires_code", False)),
    )


def _reward(data: Mapping[str, Any]) -> Reward:
    return Reward(
        id=str(data["id"]), name=data.get("name", data["id"]), type=data.get("type", "product"),
        points=int(data["points"]), value=opt_dec(data.get("value")), stock=data.get("stock"),
        min_order=opt_dec(data.get("min_order")), valid_days=data.get("valid_days"),
        tiers=_fset(data.get("tiers")), availability=data.get("availability"),
        fulfilment=data.get("fulfilment", "virtual"),
    )


def _redemption(data: Mapping[str, Any] | None) -> Redemption | None:
    if not data:
        return None
    rate = data.get("rate", {"points": 100, "value": "1.00"})
    auto = data.get("automatic")
    frac = data.get("max_order_fraction")
    return Redemption(
        rate_points=int(rate["points"]), rate_value=dec(rate["value"]),
        min_points=int(data.get("min_points", 0)),
        max_order_fraction=None if frac is None else dec(frac),
        expiry_months=(data.get("expiry") or {}).get("months"),
        automatic=AutoRedemption(int(auto["threshold"]), int(auto.get("unit", auto["threshold"])),
                                 tuple(auto.get("methods", ["cashback"])),
                                 _limit(auto.get("frequency"))) if auto else None,
        catalog=tuple(_reward(r) for r in data.get("catalog", [])),
        account=PointsAccount(**data["account"]) if data.get("account") else PointsAccount("internal"),
        refund_policy=str(data.get("refund_policy", "forfeit_remaining")),
    )


def mentions_line(condition: Any) -> bool:
    if isinstance(condition, Mapping):
        if str(condition.get("field", "")).startswith("line."):
            return True
        return any(mentions_line(v) for k, v in condition.items() if k in ("all", "any", "not"))
    if isinstance(condition, list):
        return any(mentions_line(c) for c in condition)
    return False


def _rule(data: Mapping[str, Any]) -> CustomRule:
    effects = []
    for item in data.get("then", []):
        for kind, value in item.items():
            effects.append(Effect(kind, value))
    when = data.get("when") or {"all": []}
    return CustomRule(id=str(data["id"]), description=data.get("description", ""), when=when,
                      then=tuple(effects), line_level=mentions_line(when))


MEASURES = ("orders", "spend", "points", "streak_months", "first_in_category")


def _milestone(data: Mapping[str, Any]) -> Milestone:
    when, reward = data.get("when") or {}, data.get("reward") or {}
    measure = next(m for m in MEASURES if m in when)
    category = str(when[measure]) if measure == "first_in_category" else None
    return Milestone(
        id=str(data["id"]), name=str(data.get("name", data["id"])), measure=measure,
        target=Decimal(1) if category is not None else dec(when[measure]),
        reward=MilestoneReward(points=reward.get("points"), badge=reward.get("badge"),
                               reward_id=reward.get("reward")),
        category=category)


def _alerts(data: Mapping[str, Any]) -> Alerts:
    reach = data.get("tier_within_reach") or {}
    return Alerts(
        expiring_days=(data.get("points_expiring") or {}).get("within_days"),
        tier_spend=opt_dec(reach.get("spend")), tier_orders=reach.get("orders"),
        reward_affordable=bool(data.get("reward_affordable", False)),
        campaign_days=(data.get("campaign_starting") or {}).get("within_days"))


def _notification(data: Mapping[str, Any]) -> Notification:
    return Notification(
        id=str(data["id"]), event=str(data["event"]),
        channels=tuple(data.get("channels", ["email"])),
        kind=str(data.get("kind", "transactional")),
        templates={locale: Template(t.get("subject"), str(t["text"]), t.get("html"))
                   for locale, t in (data.get("templates") or {}).items()},
        match={str(k): v for k, v in (data.get("match") or {}).items()})


def engagement(data: Mapping[str, Any] | None) -> Engagement:
    """The `engagement:` section (an empty one when the ruleset has none)."""
    if not data:
        return Engagement()
    notes = data.get("notifications") or {}
    quiet, cap = notes.get("quiet_hours"), notes.get("frequency_cap")
    return Engagement(
        milestones=tuple(_milestone(m) for m in data.get("milestones") or ()),
        alerts=_alerts(data.get("alerts") or {}),
        notifications=tuple(_notification(n) for n in notes.get("messages") or ()),
        fallback_locale=str(notes.get("fallback_locale", "en")),
        quiet_hours=QuietHours(str(quiet["from"]), str(quiet["to"])) if quiet else None,
        frequency_cap=FrequencyCap(int(cap["count"]), str(cap["per"]),
                                   str(cap.get("applies_to", "marketing"))) if cap else None)


def build(data: Mapping[str, Any]) -> Ruleset:
    """Convert validated ruleset data into the typed model."""
    return Ruleset(
        program=data["program"], version=int(data["version"]),
        name=data.get("name", data["program"]),
        effective_from=to_datetime(data.get("effective_from")),
        timezone=data.get("timezone", "UTC"), currency=data.get("currency", "USD"),
        rounding=data.get("rounding", "floor"), rounding_scope=data.get("rounding_scope", "order"),
        tiers=_tiers(data.get("tiers")), earning=_earning(data.get("earning") or {}),
        rotations=tuple(_rotation(r) for r in data.get("seasonal_categories", [])),
        campaigns=tuple(_campaign(c, i) for i, c in enumerate(data.get("campaigns", []))),
        redemption=_redemption(data.get("redemption")),
        rules=tuple(_rule(r) for r in data.get("rules", [])),
        approvals_required=int((data.get("approvals") or {}).get("required", 0)),
        invariants={name: dec(limit)
                    for name, limit in (data.get("invariants") or {}).items()},
        engagement=engagement(data.get("engagement")),
        data=data,
    )
