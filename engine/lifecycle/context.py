"""What every lifecycle step needs of the program, and the steps they all share:
bringing a book forward in time, the evaluator's view of a book, crediting points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import engine.calendar as calendar
import engine.lifecycle.points as points
import engine.lifecycle.policies as policies
from engine.evaluation.state import MemberState
from engine.language.model import Rotation
from engine.lifecycle.alerts import alerts_due, next_alert_at
from engine.lifecycle.book import MemberBook
from engine.lifecycle.changes import Change, Entry, StockMove, TierChange
from engine.lifecycle.records import OrderRecord, RedemptionRecord, expired_orders
from engine.lifecycle.tiering import TierRules
from engine.program import Program

ZERO = Decimal(0)
_NONE: frozenset[str] = frozenset()


class Pool(Protocol):
    """Limits shared by members: the caller reads them (under its locks) and applies
    the `BudgetMove`s and `StockMove`s a step returns."""

    def budget_used(self, campaign: str) -> int: ...
    def stock_left(self, reward: str) -> int | None: ...
    def codes(self, presented: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        """Of the coupon codes `presented`: those with a use left (code → campaign), and
        the others (code → why not)."""
        ...


class NoPool:
    """For programs (or steps) that touch no shared limit."""

    def budget_used(self, campaign: str) -> int:
        return 0

    def stock_left(self, reward: str) -> int | None:
        return None

    def codes(self, presented: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        return {}, dict.fromkeys(presented, "unknown")


@dataclass
class Step:
    """What one lifecycle step did: the changes in order, and the holds it released."""

    changes: list[Change] = field(default_factory=list)
    released: list[RedemptionRecord] = field(default_factory=list)
    noted: int = 0  # changes already told to the order records (`Lifecycle.note`)

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, changes: list[Change] | None = None,
                 released: list[RedemptionRecord] | None = None, noted: int = 0) -> None:
        self.changes = [] if changes is None else changes
        self.released = [] if released is None else released
        self.noted = noted

    def entries(self) -> list[Entry]:
        return [c for c in self.changes if isinstance(c, Entry)]


class Lifecycle:
    """One program version's lifecycle rules (build once per compiled program)."""

    def __init__(self, program: Program) -> None:
        self.program = program
        model = self.model = program.model
        self.tz = program.timezone
        self.tiers = TierRules.of(model.tiers, self.tz)
        self.rotations: dict[str, Rotation] = {r.rule_id: r for r in model.rotations}
        self.challenge_days = {c.id: c.window_days for c in model.campaigns
                               if c.type == "tier_challenge"}
        self.budgeted = frozenset(c.id for c in model.campaigns if c.budget_points is not None)
        self.stocked = frozenset(r.id for r in model.redemption.catalog if r.stock is not None) \
            if model.redemption else frozenset()
        self.refund_policy = policies.refund_policy(model.redemption)
        self._activity_per = {name: a.limit.per if a.limit else "lifetime"
                              for name, a in model.earning.activities.items()}
        redemption = model.redemption
        self._expiry_months = int(redemption.expiry_months) \
            if redemption is not None and redemption.expiry_months else None
        self._local: tuple[datetime | None, datetime | None] = (None, None)
        self._periods: dict[str, str] = {}  # period kind → key, for the instant in `_local`
        self._expiry: tuple[datetime | None, datetime | None] = (None, None)
        # A store sets its server clock here: points never expire, and holds never time
        # out, ahead of it, whatever instant an event carries (a replay sets nothing).
        self.expire_until: Callable[[], datetime] | None = None
        # the engagement: section's alerts (engine/lifecycle/alerts.py), raised as books move
        alerts = model.engagement.alerts
        self.alerting = bool(alerts.expiring_days is not None or alerts.tier_spend is not None
                             or alerts.tier_orders is not None or alerts.reward_affordable
                             or alerts.campaign_days is not None)

    # ------------------------------------------------------------ books
    def new_book(self, member_id: str, at: datetime, attributes: dict | None = None,
                 tier: str | None = None) -> MemberBook:
        book = MemberBook(member_id=member_id, enrolled_at=at, attributes=dict(attributes or {}))
        if self.tiers is not None:
            if tier is not None and self.tiers.index(tier) > 0:
                self.tiers.grant(book, at, tier)
            self.tiers.settle(book, at, "enroll")
            book.tier_since = at
        book.last_at = at
        return book

    def expiry_of(self, at: datetime) -> datetime | None:
        """When points credited at `at` expire (`engine.calendar.expiry_at`)."""
        if self._expiry[0] is not at:  # the lots of one event share their expiry
            self._expiry = (at, self._expiry_after(at))
        return self._expiry[1]

    def _expiry_after(self, at: datetime) -> datetime | None:
        if self._expiry_months is None:
            return None
        return calendar.months_later(self.local(at), self._expiry_months)

    def local(self, at: datetime) -> datetime:
        """`at` in the program's timezone (the last answer is kept: one event asks often)."""
        if self._local[0] is not at:
            self._local = (at, calendar.local(self.program, at))
            self._periods = {}
        return self._local[1]  # type: ignore[return-value]

    def period(self, per: str, at: datetime) -> str:
        local = self.local(at)
        key = self._periods.get(per)
        if key is None:
            key = self._periods[per] = calendar.period_of(per, local.date())
        return key

    def cap_period(self, rotation: Rotation, at: datetime) -> str:
        return rotation.cap_key(self.local(at).date())

    # ------------------------------------------------------------ time
    def advance(self, book: MemberBook, at: datetime, step: Step | None = None,
                alerts: bool = True) -> Step:
        """Bring `book` to `at`: release holds whose time ran out, expire due lots, let
        the tier fall at every boundary passed, and raise the alerts due (unless the
        caller raises them itself at the end of its step: `alerts` False). Never moves a
        book backwards."""
        step = step if step is not None else Step()
        if book.last_at is not None and at < book.last_at:
            at = book.last_at  # an event dated earlier than one already applied
        due = at if self.expire_until is None else min(at, self.expire_until())
        if book.holds:
            for hold in [h for h in book.holds if h.hold_expires_at is not None
                         and h.hold_expires_at <= due]:
                self.release(book, hold, hold.hold_expires_at or due, "released", step)
        if points.any_due(book, due):
            step.changes.extend(points.expire_due(book, due))
        if self.tiers is not None:
            step.changes.extend(self.tiers.advance(book, at))
        book.last_at = at
        if alerts and self.alerting:
            self.raise_alerts(book, at, step)
        return step

    def alert_due(self, book: MemberBook) -> datetime | None:
        """When time alone next raises an alert for `book` (alerts.py `next_alert_at`;
        None: none is coming, or the program declares no time-based alert)."""
        return next_alert_at(self.model, book, self.tz) if self.alerting else None

    def raise_alerts(self, book: MemberBook, at: datetime, step: Step) -> None:
        """The alerts due for `book` at `at` and not raised before (alerts.py)."""
        totals = self.tiers.totals(book, at) if self.tiers is not None else None
        step.changes.extend(alerts_due(self.model, book, at, self.tz,
                                       points.spendable(book, at), totals))

    def release(self, book: MemberBook, record: RedemptionRecord, at: datetime, status: str,
                step: Step) -> None:
        """Put a redemption's points back (cancel, release) and its stock."""
        if record in book.holds:
            book.holds.remove(record)
        if record.draws:
            given = points.restore(book, record.draws, at)
            step.changes.append(Entry("reverse", record.points, "redemption.cancel",
                                      "redemption", record.id, at, draws=given))
            step.changes.extend(points.expire_due(book, at))
        if record.kind in ("reward", "gift") and record.reward_id in self.stocked:
            step.changes.append(StockMove(record.reward_id, -record.quantity))
        if record.kind == "automatic" and record.counted_in is not None \
                and book.auto_used[0] == record.counted_in and book.auto_used[1] > 0:
            book.auto_used = (record.counted_in, book.auto_used[1] - 1)
        record.status = status
        step.released.append(record)

    @staticmethod
    def note(step: Step, records: Mapping[str, OrderRecord] | None) -> None:
        """Tell the order records the step's new `expire` entries drew on: points an order
        lost to expiry are never taken back by its refunds."""
        changes = step.changes
        start, step.noted = step.noted, len(changes)
        if records is None or start == step.noted:
            return
        fresh = [c for c in changes[start:] if type(c) is Entry]
        if not any(c.kind == "expire" for c in fresh):
            return
        for order_id, draws in expired_orders(fresh).items():
            record = records.get(order_id)
            if record is not None:
                record.note_expired(draws)

    # ------------------------------------------------------------ the evaluator's view
    def state(self, book: MemberBook, at: datetime, pool: Pool,
              stock: bool = False, codes: tuple[str, ...] = ()) -> MemberState:
        """What the evaluator needs to know about the member at `at` (and of the coupon
        codes `codes` a request presents, which the pool holds)."""
        spend, orders = self.tiers.totals(book, at) if self.tiers else (ZERO, 0)
        caps = {rule: spent for rule, (period, spent) in book.caps.items()
                if rule in self.rotations and period == self.cap_period(self.rotations[rule], at)
                } if book.caps else {}
        challenges = {cid: c.spend for cid, c in book.challenges.items()
                      if c.started_at <= at and (c.ends_at is None or at < c.ends_at)
                      } if book.challenges else {}
        # an evaluation reads them for a member's first order only (the first-purchase
        # bonus's limit: engine/evaluation/result.py `_activities`)
        activities = self._activity_counts(book, at) \
            if book.activities and not book.orders_count else {}
        valid, refused = pool.codes(codes) if codes else ({}, {})
        return MemberState(
            codes=valid, refused_codes=refused,
            tier=book.tier, balance=points.spendable(book, at), orders_count=book.orders_count,
            qualifying_spend=spend, qualifying_orders=orders, cap_usage=caps,
            campaign_usage={cid: used[0] for cid, used in book.campaigns.items()
                            } if book.campaigns else {},
            campaign_budget_used={cid: pool.budget_used(cid) for cid in self.budgeted
                                  } if self.budgeted else {},
            challenge_spend=challenges,
            reward_stock={r: left for r in self.stocked
                          if (left := pool.stock_left(r)) is not None} if stock else {},
            activity_counts=activities,
            awarded_upgrades=frozenset(book.awarded_upgrades) if book.awarded_upgrades
            else _NONE, tier_since=book.tier_since,
            enrolments=frozenset(book.enrolments) if book.enrolments else _NONE)

    def count_activity(self, book: MemberBook, name: str, at: datetime) -> None:
        """Count one more activity `name` in its limit's period containing `at`."""
        period = self.activity_period(name, at)
        held = book.activities.get(name)
        book.activities[name] = (period, (held[1] if held and held[0] == period else 0) + 1)

    def activity_period(self, name: str, at: datetime) -> str:
        per = self._activity_per.get(name, "lifetime")
        return "lifetime" if per == "lifetime" else self.period(per, at)

    def _activity_counts(self, book: MemberBook, at: datetime) -> dict[str, int]:
        """The member's count of each activity in its limit's period containing `at`."""
        return {name: n for name, (period, n) in book.activities.items()
                if period == self.activity_period(name, at)}

    # ------------------------------------------------------------ crediting
    def credit(self, book: MemberBook, parts: list[tuple[str, str, int]], at: datetime,
               source_type: str, source_ref: str, lot_source: str, step: Step,
               order_id: str | None = None) -> int | None:
        """Open one lot for `parts` [(kind, rule, points)] and journal one entry per part;
        returns the lot number (None when nothing was credited). `order_id`: the lot holds
        that order's points (`lot_source` is "order:<order_id>")."""
        given = [p for p in parts if p[2] > 0]
        if not given:
            return None
        total = sum(p[2] for p in given)
        expires = self.expiry_of(at)
        no, repay = points.open_lot(book, total, at, expires, lot_source, order_id)
        changes = step.changes
        for kind, rule, pts in given:
            changes.append(Entry(kind, pts, rule, source_type, source_ref, at, no, expires, repay))
            repay = ()
        return no

    def tier_settled(self, book: MemberBook, at: datetime, cause: str, step: Step) -> None:
        if self.tiers is None:
            return
        change: TierChange | None = self.tiers.settle(book, at, cause)
        if change is not None:
            step.changes.append(change)


IdFactory = Callable[[], str]
