"""Campaign participation in a member's book: joining and leaving opt-in campaigns, and
what the member has of each campaign (uses, budget, challenge, seasonal cap spend).

Joining is kept in the book (`MemberBook.enrolments`); the evaluator's view of the book
(`Lifecycle.state`) carries it, and the compiled condition of an opt-in campaign
(engine/rules/compile.py `campaign_condition`) decides with it. The store and the
simulator both enrol through here.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from engine.language.model import Campaign
from engine.lifecycle.book import MemberBook
from engine.lifecycle.context import Lifecycle, Pool, Step

__all__ = ["CampaignRefused", "code_refusal", "coded_campaigns", "enrol", "leave", "progress"]


def coded_campaigns(campaigns: Iterable[Campaign]) -> frozenset[str]:
    """The ids of the campaigns that apply only with one of their coupon codes."""
    return frozenset(c.id for c in campaigns if c.requires_code)


def code_refusal(coded: frozenset[str], campaign: str, used: int, uses: int) -> str | None:
    """Why a known coupon code of `campaign` (`used` of its `uses` taken) cannot go to an
    order now, or None when it can: `not_in_version` (its campaign is not one of the
    running version's `coded` campaigns), `used_up`. The store and the simulator both
    ask here."""
    if campaign not in coded:
        return "not_in_version"
    if used >= uses:
        return "used_up"
    return None


class CampaignRefused(ValueError):
    """A participation change the program does not allow; `code` says which."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def _opt_in(lc: Lifecycle, campaign_id: str) -> Campaign:
    campaign = next((c for c in lc.model.campaigns if c.id == campaign_id), None)
    if campaign is None:
        known = ", ".join(c.id for c in lc.model.campaigns) or "none"
        raise CampaignRefused("unknown_campaign", f"no campaign {campaign_id!r} in "
                              f"{lc.program.name} (campaigns: {known})")
    if campaign.participation != "opt_in":
        raise CampaignRefused("not_opt_in", f"campaign {campaign_id!r} is open to every "
                              "eligible member: there is nothing to join")
    return campaign


def enrol(lc: Lifecycle, book: MemberBook, campaign_id: str, at: datetime,
          step: Step | None = None) -> bool:
    """Join opt-in campaign `campaign_id` at `at`; False when the member already had.
    The book is brought to `at` first: what that changes (expiry, released holds) goes
    into `step`, for the caller to apply."""
    _opt_in(lc, campaign_id)
    lc.advance(book, at, step)
    if campaign_id in book.enrolments:
        return False
    insort(book.enrolments, campaign_id)
    return True


def leave(lc: Lifecycle, book: MemberBook, campaign_id: str, at: datetime,
          step: Step | None = None) -> bool:
    """Leave opt-in campaign `campaign_id` at `at`; False when the member was not in it.
    Uses already counted stay counted. As `enrol`, the book is brought to `at` first."""
    _opt_in(lc, campaign_id)
    lc.advance(book, at, step)
    if campaign_id not in book.enrolments:
        return False
    book.enrolments.remove(campaign_id)
    return True


def progress(lc: Lifecycle, book: MemberBook, at: datetime, pool: Pool) -> dict[str, Any]:
    """What the member has of each campaign at `at`, and of each seasonal cap: uses and
    uses left, points given, the shared budget left, a running tier challenge's spend,
    window and remainder, and the cap spend of the period containing `at`."""
    state = lc.state(book, at, pool)
    campaigns = []
    for c in lc.model.campaigns:
        uses, points = book.campaigns.get(c.id, (0, 0))
        item: dict[str, Any] = {"id": c.id, "type": c.type, "uses": uses, "points": points}
        if c.participation == "opt_in":
            item["enrolled"] = c.id in book.enrolments
        if c.limit_per_member is not None:
            item["uses_left"] = max(0, c.limit_per_member - uses)
        if c.budget_points is not None:
            used = state.campaign_budget_used.get(c.id, 0)
            item["budget_left"] = max(0, c.budget_points - used)
        if c.type == "tier_challenge" and c.target_spend is not None:
            running = book.challenges.get(c.id)
            live = running is not None and running.started_at <= at and (
                running.ends_at is None or at < running.ends_at)
            spend = running.spend if live and running is not None else 0
            item["challenge"] = {
                "target_spend": f"{c.target_spend:.2f}", "spend": f"{spend:.2f}",
                "remaining": f"{max(c.target_spend - spend, 0):.2f}",
                "started_at": running.started_at.isoformat() if live and running else None,
                "ends_at": running.ends_at.isoformat()
                if live and running and running.ends_at else None,
                "window_days": c.window_days}
        campaigns.append(item)
    caps = []
    for rotation in lc.model.rotations:
        if rotation.cap_spend is None:
            continue
        period = lc.cap_period(rotation, at)
        spend = state.cap_usage.get(rotation.rule_id, 0)
        caps.append({"rule": rotation.rule_id, "period": period,
                     "cap": f"{rotation.cap_spend:.2f}", "spend": f"{spend:.2f}",
                     "left": f"{max(rotation.cap_spend - spend, 0):.2f}"})
    return {"member_id": book.member_id, "campaigns": campaigns, "caps": caps}
