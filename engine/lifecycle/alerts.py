"""Proactive alerts of the `engagement:` section, raised as a member's book moves:

- `points.expiring`: a batch of lots expiring the same program-local day is within
  `within_days` — one alert per batch (key `points.expiring:<day>`), not one a day;
- `tier.within_reach`: the member is no further from the next tier than the declared
  spend and/or orders (what is not declared must already be met) — once per tier held
  and tier aimed at (key `tier.within_reach:<tier>><next>`);
- `reward.affordable`: the balance covers a catalog reward (one the member's tier may
  redeem) it did not cover when last looked at — raised again only after the balance
  fell below it (key `reward.affordable:<reward id>`, dropped then);
- `campaign.starting`: a campaign whose tiers and segments take the member starts within
  `within_days` (key `campaign.starting:<id>`).

The keys of the alerts that stand are kept in the book (`Progress.alerts`); the alerts
are `AlertRaised` changes whose payloads are the event catalog's (engine/events).
Python does the arithmetic here; nothing is decided twice: the tier thresholds, the
rewards' costs and the campaigns' schedules are the ruleset's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from engine.calendar import in_zone
from engine.language.model import Alerts, Campaign, Ruleset
from engine.lifecycle.book import MemberBook, Progress
from engine.lifecycle.changes import AlertRaised

__all__ = ["alerts_due", "next_alert_at"]

ZERO = Decimal(0)
# Each helper below adds the key of every alert that stands now to `standing`, and builds
# the alert (its payload) into `raised` only for a key not in `before`, the keys raised
# earlier: most calls find every standing alert raised already (a balance that covers a
# reward covers it at the member's next order too), and a replay asks at every event.


def _iso(at: datetime) -> str:
    return at.isoformat()


def _expiring(settings: Alerts, book: MemberBook, at: datetime, tz: ZoneInfo,
              before: set[str], standing: set[str], raised: list[AlertRaised]) -> None:
    if settings.expiring_days is None:
        return
    # lots are in consumption order, soonest expiry first (undated last): past a day
    # beyond the window, no later lot is in it
    beyond = at + timedelta(days=settings.expiring_days + 2)
    if not book.lots or book.lots[0].expires_at is None or book.lots[0].expires_at > beyond:
        return
    today = in_zone(tz, at).date()
    horizon = today + timedelta(days=settings.expiring_days)
    batches: dict[date, tuple[int, datetime]] = {}
    for lot in book.lots:
        if lot.expires_at is None or lot.expires_at > beyond:
            break
        if lot.left <= 0 or lot.expires_at <= at:
            continue
        day = lot.expires_at.astimezone(tz).date()
        if day <= horizon:
            pts, first = batches.get(day, (0, lot.expires_at))
            batches[day] = (pts + lot.left, min(first, lot.expires_at))
    for day, (pts, first) in sorted(batches.items()):
        key = f"points.expiring:{day.isoformat()}"
        standing.add(key)
        if key in before:
            continue
        raised.append(AlertRaised("points.expiring", at, key, {
            "points": pts, "expires_at": _iso(first), "days_left": (day - today).days}))


def _within_reach(settings: Alerts, model: Ruleset, book: MemberBook, at: datetime,
                  totals: tuple[Decimal, int] | None, before: set[str], standing: set[str],
                  raised: list[AlertRaised]) -> None:
    tiers = model.tiers
    if totals is None or tiers is None or (settings.tier_spend is None
                                           and settings.tier_orders is None):
        return
    current = tiers.get(book.tier)
    index = current.index + 1 if current is not None else 0
    if index >= len(tiers.levels):
        return
    nxt = tiers.levels[index]
    spend, orders = totals
    missing_spend = max(nxt.min_spend - spend, ZERO)
    missing_orders = max(nxt.min_orders - orders, 0)
    if (missing_spend > (settings.tier_spend or 0)
            or missing_orders > (settings.tier_orders or 0)
            or (not missing_spend and not missing_orders)):
        return
    key = f"tier.within_reach:{book.tier}>{nxt.id}"
    standing.add(key)
    if key in before:
        return
    raised.append(AlertRaised("tier.within_reach", at, key, {
        "tier": book.tier, "next_tier": nxt.id,
        "missing_spend": str(missing_spend) if nxt.min_spend else None,
        "missing_orders": missing_orders if nxt.min_orders else None}))


def _affordable(settings: Alerts, model: Ruleset, book: MemberBook, at: datetime,
                balance: int, before: set[str], standing: set[str], raised: list[AlertRaised]) -> None:
    if not settings.reward_affordable or model.redemption is None:
        return
    for reward in model.redemption.catalog:
        if reward.tiers and book.tier not in reward.tiers:
            continue
        if balance >= reward.points:
            key = f"reward.affordable:{reward.id}"
            standing.add(key)
            if key in before:
                continue
            raised.append(AlertRaised("reward.affordable", at, key, {
                "reward_id": reward.id, "name": reward.name, "points": reward.points,
                "balance": balance}))


def _takes(campaign: Campaign, book: MemberBook) -> bool:
    elig = campaign.eligibility
    if elig.tiers and book.tier not in elig.tiers:
        return False
    segments = book.attributes.get("segments")
    return not elig.segments or (isinstance(segments, list)
                                 and bool(elig.segments.intersection(segments)))


def _starting(settings: Alerts, model: Ruleset, book: MemberBook, at: datetime,
              tz: ZoneInfo, before: set[str], standing: set[str], raised: list[AlertRaised]) -> None:
    if settings.campaign_days is None:
        return
    today = in_zone(tz, at).date()
    for c in model.campaigns:
        start = c.schedule.start
        if start is None or not today < start <= today + timedelta(days=settings.campaign_days):
            continue
        if _takes(c, book):
            key = f"campaign.starting:{c.id}"
            standing.add(key)
            if key in before:
                continue
            starts = datetime(start.year, start.month, start.day, tzinfo=tz)
            raised.append(AlertRaised("campaign.starting", at, key, {
                "campaign": c.id, "name": c.name, "starts_at": _iso(starts)}))


def alerts_due(model: Ruleset, book: MemberBook, at: datetime, tz: ZoneInfo, balance: int,
               totals: tuple[Decimal, int] | None) -> list[AlertRaised]:
    """The alerts to raise for `book` at `at` (its `balance` and tier-window `totals`
    then), not raised before; the book's standing keys are brought up to date."""
    settings = model.engagement.alerts
    progress = book.progress
    before = set(progress.alerts) if progress is not None else set()
    standing: set[str] = set()
    raised: list[AlertRaised] = []
    _expiring(settings, book, at, tz, before, standing, raised)
    _within_reach(settings, model, book, at, totals, before, standing, raised)
    _affordable(settings, model, book, at, balance, before, standing, raised)
    _starting(settings, model, book, at, tz, before, standing, raised)
    if progress is None:
        if not standing:
            return []
        progress = book.progress = Progress()
    # keys no longer true are dropped (a reward again affordable later is raised again);
    # campaign keys stay: a campaign starts once
    kept = [k for k in progress.alerts if k in standing or k.startswith("campaign.starting:")]
    progress.alerts = kept + [a.key for a in raised]
    return raised


def next_alert_at(model: Ruleset, book: MemberBook, tz: ZoneInfo) -> datetime | None:
    """When time alone next raises an alert for `book` (a batch of points comes within
    `points_expiring.within_days` of its day, a campaign within
    `campaign_starting.within_days` of its start), for a scheduler that brings books
    forward (`Lifecycle.advance`) when their time comes; None: nothing is coming."""
    settings, raised = model.engagement.alerts, set(book.progress.alerts if book.progress else ())
    after = book.last_at
    times: list[datetime] = []
    if settings.expiring_days is not None:
        for lot in book.lots:
            if lot.expires_at is None or lot.left <= 0:
                continue
            day = lot.expires_at.astimezone(tz).date()
            if f"points.expiring:{day.isoformat()}" not in raised:
                start = day - timedelta(days=settings.expiring_days)
                times.append(datetime(start.year, start.month, start.day, tzinfo=tz))
    if settings.campaign_days is not None:
        for c in model.campaigns:
            if c.schedule.start is not None and f"campaign.starting:{c.id}" not in raised \
                    and _takes(c, book):
                start = c.schedule.start - timedelta(days=settings.campaign_days)
                times.append(datetime(start.year, start.month, start.day, tzinfo=tz))
    due = [t for t in times if after is None or t > after]
    return min(due) if due else None
