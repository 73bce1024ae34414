"""Adding lifecycle steps up into the simulation's figures (engine/simulation/stats.py).

Every figure comes from what the core returned — ledger entries, tier changes, budget,
stock and cashback moves — so the books balance by construction:
issued − reversed − redeemed − expired == the sum of the members' balances.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.lifecycle import (
    BudgetMove,
    CashbackMove,
    CodeMove,
    Entry,
    MemberBook,
    MilestoneReached,
    OrderRecord,
    RefundStep,
    Step,
    StockMove,
    TierChange,
)
from engine.lifecycle.orders import OrderStep
from engine.program import Program
from engine.simulation.history import Event
from engine.simulation.messages import Messages
from engine.simulation.stats import Stats, month_key, months_between, next_month_start

ZERO = Decimal(0)


class Tally:
    def __init__(self, program: Program, stats: Stats,
                 local: Callable[[datetime], datetime] | None = None) -> None:
        self.stats = stats
        self.tz = program.timezone
        # program-local time; the lifecycle's (`Lifecycle.local`) keeps the event's
        self.local = local or (lambda at: at.astimezone(self.tz))
        tiers = program.model.tiers
        self.tier_index = {t.id: i for i, t in enumerate(tiers.levels)} if tiers else {}
        # member id → [(instant, tier index)], for the tiers-by-month table
        self.timelines: dict[str, list[tuple[datetime, int]]] = {}
        self.net: dict[str, list[int]] = {}  # member id → [points issued, reversed]
        self._month: tuple[datetime | None, str] = (None, "")
        self._last: datetime | None = None  # the latest instant counted (stats.last_ts)
        self._cap_full: set[tuple[str, str, str]] = set()  # (member, rotation, period)
        messages = Messages(program, stats)
        self.messages = messages if messages.on else None

    def month(self, at: datetime) -> str:
        last = self._month
        if last[0] is not at:  # the entries of one event share its instant
            last = self._month = (at, month_key(self.local(at)))
        return last[1]

    def event(self, ev: Event) -> None:
        stats, at = self.stats, ev.at
        stats.processed += 1
        stats.by_type[ev.type] += 1
        month = self.month(at)
        if stats.first_month is None or month < stats.first_month:
            stats.first_month = month
        if self._last is None or at > self._last:
            self._last = at  # `stats.last_ts` is set from it at the end (`close`)

    def close(self) -> None:
        """At the end of the history: the latest instant counted, as stats keep it."""
        if self._last is not None:
            self.stats.last_ts = max(self.stats.last_ts, self._last.timestamp())

    def release(self) -> None:
        """Drop the per-member tallies (see Replay.release)."""
        self.timelines.clear()
        self.net.clear()
        if self.messages is not None:
            self.messages.history.clear()

    def member(self, book: MemberBook, at: datetime) -> None:
        self.stats.members += 1
        self.timelines[book.member_id] = [(at, self.tier_index.get(book.tier or "", 0))]
        self.net[book.member_id] = [0, 0]

    def step(self, book: MemberBook, step: Step, at: datetime, pool: Any) -> None:
        net = None
        for change in step.changes:  # `type(…) is`: the cheapest dispatch, and mypy narrows it
            if type(change) is Entry:
                which = self.entry(change)
                if which >= 0:
                    if net is None:
                        net = self.net.setdefault(book.member_id, [0, 0])
                    net[which] += change.points if which == 0 else -change.points
            elif type(change) is TierChange:
                self.tier_change(book, change)
            elif type(change) is BudgetMove:
                pool.add_budget(change.campaign, change.points)
            elif type(change) is StockMove:
                pool.take_stock(change.reward, change.quantity)
            elif type(change) is CodeMove:
                pool.move_code(change.code, change.uses)
            elif type(change) is CashbackMove:
                if change.amount > 0:
                    self.stats.cashback_paid += change.amount
                else:
                    self.stats.cashback_reversed -= change.amount
            elif type(change) is MilestoneReached:
                self.stats.milestones[change.milestone] += 1
                self.stats.milestone_points[change.milestone] += change.points or 0
                if change.gift is not None:  # a catalog reward: given, or none was left
                    self.stats.redemptions[
                        "gift" if change.gift == "issued" else f"gift:{change.gift}"] += 1
        if self.messages is not None and step.changes:
            self.messages.step(book, step.changes)

    def tier_change(self, book: MemberBook, change: TierChange) -> None:
        before = self.tier_index.get(change.before or "", -1)
        after = self.tier_index.get(change.after or "", 0)
        if after > before:
            self.stats.upgrades += 1
        else:
            self.stats.downgrades += 1
        self.timelines.setdefault(book.member_id, []).append((change.at, after))

    def entry(self, e: Entry) -> int:
        """Count one ledger entry; returns which of the member's net figures it moves
        (0: points issued, 1: points a refund reversed, -1: neither)."""
        stats = self.stats
        month = stats.month(self.month(e.at))
        kind, pts = e.kind, e.points
        if kind == "earn" or kind == "bonus" or kind == "adjust":
            # an administrator's debit (`adjust` < 0, a closed member's forfeited balance
            # too) counts against the points issued: the figure is net of them
            stats.issued += pts
            month["issued"] += pts
            if e.rule:
                stats.by_rule[e.rule] += pts
            return 0
        elif kind == "redeem":
            stats.redeemed -= pts
            month["redeemed"] -= pts
        elif kind == "expire":
            stats.expired -= pts
            month["expired"] -= pts
        elif kind == "reverse":
            if e.source_type == "refund":
                stats.reversed -= pts
                month["reversed"] -= pts
                return 1
            stats.redeemed -= pts  # points given back by a cancel, a release
            month["redeemed"] -= pts
        return -1

    def order(self, book: MemberBook, step: OrderStep, at: datetime) -> None:
        stats, outcome = self.stats, step.outcome
        assert outcome is not None
        for line in outcome.earn.lines:
            stats.by_category[line.line.category] += line.awarded
        for c in outcome.campaigns:
            stats.campaign_points[c.id] += c.points
            stats.campaign_orders[c.id] += 1
        record = step.record
        assert record is not None
        periods = {rule: period for rule, period, _ in record.caps}
        for rule in outcome.usage.caps_hit:
            stats.caps_orders_over[rule] += 1
            held = book.caps.get(rule)
            full = (book.member_id, rule, periods.get(rule) or (held[0] if held else ""))
            if full not in self._cap_full:
                self._cap_full.add(full)
                stats.caps_reached[rule] += 1
        for act in outcome.activities:
            stats.activities[act.activity] += 1
        stats.orders += 1
        stats.spend += record.spend
        stats.month(self.month(at))["orders"] += 1

    def refund(self, record: OrderRecord, step: RefundStep, at: datetime) -> None:
        if step.amount:
            self.stats.refunded += step.amount
        elif step.refunded:
            self.stats.refunded += sum((record.lines[i].amount * q / record.lines[i].quantity
                                        for i, q in step.refunded.items()), ZERO)

    def outcomes(self, members: dict[str, Any], tier_ids: tuple[str, ...]
                 ) -> dict[str, tuple[int, int, int, str]]:
        """Per member: (points issued, points reversed, balance, tier) for comparisons."""
        return {mid: (*self.net.get(mid, [0, 0]), mem.book.balance, mem.book.tier or tier_ids[0])
                for mid, mem in members.items()}

    def finish(self, members: Iterable[Any], end: datetime, tier_ids: tuple[str, ...]) -> None:
        stats = self.stats
        for mem in members:
            stats.tiers_end[mem.book.tier or tier_ids[0]] += 1
        if not stats.first_month:
            return
        months = months_between(stats.first_month, month_key(end.astimezone(self.tz)))
        ends = [min(next_month_start(m, self.tz), end) for m in months]
        for timeline in self.timelines.values():
            timeline.sort(key=lambda item: item[0])
            i, current = 0, None
            for month, edge in zip(months, ends):
                while i < len(timeline) and timeline[i][0] <= edge:
                    current = timeline[i][1]
                    i += 1
                if current is not None:
                    stats.tiers_by_month.setdefault(month, Counter())[tier_ids[current]] += 1
