"""Replay of members' events through the lifecycle core: the simulator's inner loop.

Every event goes to the same core the store commits through (engine/lifecycle): the
simulator only keeps the books in memory, supplies the shared limits (campaign budgets,
reward stock) through a `Pool` that keeps them exact across worker processes
(engine/simulation/partition.py), and adds the steps up for the report
(engine/simulation/tally.py).

History events map to the store's calls one for one: `enroll` is the member's first
event (account creation; `referred_by` is the referrer's referral of this member),
`order` is a commit (a `redeem` in it is a checkout hold placed just before the order,
which the order captures), `refund`, `activity`, `redemption` (with `order_id`: a hold),
`cancel`, `auto_redemption` (the member's settings), and an administrator's `adjust`
(points by hand) and `status` (suspend, reactivate, close). A suspended or closed
member's order, activity or redemption is rejected with the reason the service answers
(409 `member_suspended` / `member_closed`): the core refuses it in both.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import engine.lifecycle.campaigns as campaigns
from engine.evaluation.outcome import Outcome
from engine.evaluation.redeem import AutoSettingsInvalid, auto_settings
from engine.evaluation.request import RequestInvalid, member_problems, order_parts, order_request
from engine.lifecycle import (
    ActivityRefused,
    AdminRefused,
    Ask,
    Lifecycle,
    MemberBook,
    MemberInactive,
    OrderRecord,
    RedemptionRecord,
    RefundRefused,
    Step,
    UnknownTier,
    adjust,
    cancel,
    commit_order,
    configure_automatic,
    enrol,
    record_activity,
    redeem,
    refund,
    set_status,
)
from engine.program import Program
from engine.simulation.history import EVENT_TYPES, Event, money
from engine.simulation.stats import Stats
from engine.simulation.tally import Tally

ZERO = Decimal(0)
# An order stays refundable in the simulation while it is among the member's 20 most
# recent (the service keeps every order refundable): memory then grows with members, not
# with the history's length.
REFUNDABLE_ORDERS = 20
ADMIN_EVENTS = frozenset({"adjust", "status"})
CANCELLABLE = 20


class Reject(Exception):
    """The event cannot be applied; it is counted and reported with its line number."""


class SharedPool(Protocol):
    shared: bool  # other processes use the same limits (`sync` waits for them)

    def sync(self, line: int) -> None: ...
    def budget_used(self, campaign: str) -> int: ...
    def add_budget(self, campaign: str, points: int) -> None: ...
    def stock_left(self, reward: str) -> int | None: ...
    def take_stock(self, reward: str, quantity: int) -> None: ...
    def codes(self, presented: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]: ...
    def move_code(self, code: str, uses: int) -> None: ...


@dataclass(slots=True)
class Member:
    book: MemberBook
    attribute_errors: list[tuple[str, str]]
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    redemptions: dict[str, RedemptionRecord] = field(default_factory=dict)
    enrolled: bool = False  # False while known only as someone's referred friend

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, book: MemberBook, attribute_errors: list[tuple[str, str]],
                 orders: dict[str, OrderRecord] | None = None,
                 redemptions: dict[str, RedemptionRecord] | None = None,
                 enrolled: bool = False) -> None:
        self.book = book
        self.attribute_errors = attribute_errors
        self.orders = {} if orders is None else orders
        self.redemptions = {} if redemptions is None else redemptions
        self.enrolled = enrolled


class Replay:
    def __init__(self, program: Program, pool: SharedPool, stats: Stats) -> None:
        self.program, self.pool, self.stats = program, pool, stats
        self.lc = Lifecycle(program)
        self.tally = Tally(program, stats, self.lc.local)
        self.members: dict[str, Member] = {}
        self._ids = itertools.count(1)
        self.tier_ids = self.lc.tiers.ids if self.lc.tiers else ("none",)
        self.budgeted = [c for c in program.model.campaigns if c.budget_points is not None]
        self.stocked_gifts = any(m.reward.reward_id in self.lc.stocked
                                 for m in program.model.engagement.milestones)
        self._on: dict[str, Callable[[Member, Event], None]] = {
            kind: getattr(self, f"on_{kind}") for kind in EVENT_TYPES if kind != "enroll"}
        # An order to evaluate with its explain trace (engine/simulation/explain_order.py),
        # and that evaluation's outcome once replayed.
        self.explain_order: str | None = None
        self.explained: Outcome | None = None

    def new_id(self) -> str:
        return f"sim-{next(self._ids)}"

    # ---------------------------------------------------------------- the loop
    def handle(self, ev: Event) -> None:
        mem = self.members.get(ev.member_id)
        if ev.type == "enroll":
            if mem is not None and mem.enrolled:
                raise Reject(f"member {ev.member_id} is already enrolled")
            self.enroll(ev, mem)
        else:
            if ev.type in ADMIN_EVENTS and (mem is None or not mem.enrolled):
                # the service administers members it knows: 404 unknown_member
                raise Reject(f"unknown_member: member {ev.member_id} has no earlier event")
            if mem is None:
                mem = self.new_member(ev.member_id, {}, None, ev.at)
                self.stats.members_implicit += 1
            if not mem.enrolled:
                mem.enrolled = True
            elif mem.book.last_at is not None and ev.at < mem.book.last_at:
                raise Reject(f"event at {ev.data['at']} is earlier than member "
                             f"{ev.member_id}'s previous event; histories must be in time order")
            try:
                self._on[ev.type](mem, ev)
            except MemberInactive as exc:  # a suspended or closed member: earns, redeems nothing
                raise Reject(f"{exc.code}: {exc.message}") from None
        self.tally.event(ev)

    def new_member(self, member_id: str, attributes: dict[str, Any], tier: str | None,
                   at: datetime) -> Member:
        book = self.lc.new_book(member_id, at, attributes, tier)
        mem = self.members[member_id] = Member(
            book, member_problems({"id": member_id, "attributes": attributes}))
        self.tally.member(mem.book, at)
        return mem

    def apply(self, mem: Member, step: Step, at: datetime) -> None:
        """Shared limits move in the pool; everything else is counted; the orders whose
        points expired know it (a refund never takes expired points back)."""
        self.tally.step(mem.book, step, at, self.pool)
        self.lc.note(step, mem.orders)  # what the step itself did not tell them

    # ---------------------------------------------------------------- events
    def enroll(self, ev: Event, known: Member | None) -> None:
        """A member's first event of their own (they may be known already as someone's
        referred friend: then their book gets the attributes and the tier now)."""
        data = ev.data
        try:
            book, step = enrol(self.lc, known.book if known else None, ev.member_id, ev.at,
                               data.get("attributes"), data.get("tier"))
        except UnknownTier as exc:
            raise Reject(str(exc)) from None
        if known is None:
            mem = self.members[ev.member_id] = Member(book, [])
            self.tally.member(book, ev.at)
        else:
            mem = known
            self.apply(mem, step, ev.at)
        mem.attribute_errors = member_problems({"id": ev.member_id,
                                                "attributes": mem.book.attributes})
        mem.enrolled = True
        self.activity(mem, "account_creation", f"{ev.line}:enroll", ev.at, None)
        referrer = data.get("referred_by")
        if referrer:
            other = self.members.get(referrer) or self.new_member(referrer, {}, None, ev.at)
            self.activity(other, "referral", f"{ev.line}:referral", ev.at, mem)

    def on_activity(self, mem: Member, ev: Event) -> None:
        friend, fid = None, ev.data.get("friend_id")
        if fid:  # a friend not seen before is enrolled by a referral that is paid
            friend = self.members.get(fid) or Member(self.lc.new_book(fid, ev.at), [])
        self.activity(mem, ev.data["activity"], f"{ev.line}:activity", ev.at, friend)

    def activity(self, mem: Member, name: str, ref: str, at: datetime,
                 friend: Member | None) -> None:
        try:
            step = record_activity(self.lc, mem.book, name, ref, at,
                                   friend.book if friend else None, self.referrer_of,
                                   records=mem.orders)
        except ActivityRefused as exc:
            code = "no_points" if exc.code == "activity_not_offered" else exc.code
            self.stats.activities[f"{name}:{code}"] += 1
            return
        except MemberInactive as inactive:  # declined, as the service declines it
            self.stats.activities[f"{name}:{inactive.code}"] += 1
            return
        self.apply(mem, step, at)
        if friend is not None and step.friend_step is not None:
            if friend.book.member_id not in self.members:
                self.members[friend.book.member_id] = friend
                self.tally.member(friend.book, at)
            self.apply(friend, step.friend_step, at)
        self.stats.activities[name] += 1

    def referrer_of(self, member_id: str) -> str | None:
        known = self.members.get(member_id)
        return known.book.referred_by if known is not None else None

    def on_order(self, mem: Member, ev: Event) -> None:
        order = ev.data["order"]
        if order["id"] in mem.orders:
            raise Reject(f"order {order['id']} was already recorded")
        order.setdefault("placed_at", ev.data["at"])
        redeem_raw = ev.data.get("redeem")
        if self.pool.shared and self.touches_pool(ev):
            self.pool.sync(ev.line)  # budgets and stock: wait for every earlier line
        try:
            # The same as evaluate(program, {"member", "order"}), with the member's
            # attributes checked once and the order when the history was read.
            parts = ev.parts or order_parts(order, None)
            request = order_request({"id": mem.book.member_id, "attributes": mem.book.attributes},
                                    mem.attribute_errors, (parts[0], None))
            if ev.data.get("codes"):
                request = request._replace(codes=tuple(ev.data["codes"]))
        except RequestInvalid as exc:
            raise Reject(str(exc)) from None
        placed = request.order
        assert placed is not None
        if redeem_raw:
            total = sum((ln.amount for ln in placed.lines), ZERO) + placed.shipping
            self.redeem(mem, Ask(points=redeem_raw.get("points"),
                                 reward_id=redeem_raw.get("reward_id"),
                                 quantity=int(redeem_raw.get("quantity", 1)),
                                 order_id=order["id"], order_total=total), ev.at)
        explain = order["id"] == self.explain_order
        try:
            step = commit_order(self.lc, mem.book, request._replace(explain=True) if explain
                                else request, self.pool, self.new_id, summary=not explain,
                                records=mem.orders)
        except RequestInvalid as exc:  # what only the evaluation can tell (the currency)
            raise Reject(str(exc)) from None
        if explain:
            self.explained = step.outcome
        self.apply(mem, step, ev.at)
        self.tally.order(mem.book, step, ev.at)
        assert step.record is not None
        self.keep(mem.orders, order["id"], step.record, REFUNDABLE_ORDERS)
        for record in step.automatic:
            self.stats.redemptions[f"automatic:{mem.book.auto.method}"] += 1  # type: ignore[union-attr]
            self.keep(mem.redemptions, record.id, record, CANCELLABLE)
        for record in step.gifts:  # a milestone's catalog reward (counted by the tally)
            self.keep(mem.redemptions, record.id, record, CANCELLABLE)

    def touches_pool(self, ev: Event) -> bool:
        """Whether an order may use a shared limit: a stocked reward (redeemed, or the gift
        of a milestone the program declares), coupon codes, or a budgeted campaign whose
        dates include the order's."""
        redeem_raw = ev.data.get("redeem") or {}
        if redeem_raw.get("reward_id") in self.lc.stocked or ev.data.get("codes") \
                or self.stocked_gifts:  # an order may reach a milestone giving stock
            return True
        day = self.lc.local(ev.at).date()  # the order's step asks for the same local time
        return any(not ((c.schedule.start and day < c.schedule.start)
                        or (c.schedule.end and day > c.schedule.end))
                   for c in self.budgeted)

    def on_campaign_join(self, mem: Member, ev: Event) -> None:
        self.participate(mem, ev, campaigns.enrol)

    def on_campaign_leave(self, mem: Member, ev: Event) -> None:
        self.participate(mem, ev, campaigns.leave)

    def participate(self, mem: Member, ev: Event, change: Callable[..., bool]) -> None:
        step = Step()
        try:
            change(self.lc, mem.book, ev.data["campaign"], ev.at, step)
        except campaigns.CampaignRefused as exc:
            raise Reject(f"{exc.code}: {exc}") from None
        finally:
            self.apply(mem, step, ev.at)  # what bringing the book to `at` changed

    def on_redemption(self, mem: Member, ev: Event) -> None:
        data = ev.data
        if data.get("reward_id") in self.lc.stocked:  # only stock is shared
            self.pool.sync(ev.line)
        total = money(data["order_total"], "order_total") if "order_total" in data else None
        self.redeem(mem, Ask(points=data.get("points"), reward_id=data.get("reward_id"),
                             quantity=data.get("quantity", 1), order_id=data.get("order_id"),
                             order_total=total), ev.at, data.get("id"))

    def redeem(self, mem: Member, ask: Ask, at: datetime, rid: str | None = None) -> None:
        step = redeem(self.lc, mem.book, ask, at, self.pool, rid or self.new_id(),
                      records=mem.orders)
        self.apply(mem, step, at)
        assessed = step.assessed
        assert assessed is not None
        if not assessed.eligible:
            for reason in assessed.reasons:
                self.stats.redemptions[f"declined:{reason.code}"] += 1
            return
        self.stats.redemptions["accepted"] += 1
        assert step.record is not None
        self.keep(mem.redemptions, step.record.id, step.record, CANCELLABLE)

    def on_cancel(self, mem: Member, ev: Event) -> None:
        record = mem.redemptions.get(ev.data["redemption_id"])
        if record is None or record.status not in ("completed", "held"):
            raise Reject(f"no cancellable redemption {ev.data['redemption_id']!r} for member "
                         f"{mem.book.member_id}")
        self.apply(mem, cancel(self.lc, mem.book, record, ev.at, records=mem.orders), ev.at)

    def on_auto_redemption(self, mem: Member, ev: Event) -> None:
        config = self.program.model.redemption
        if config is None or config.automatic is None:
            raise Reject("this program offers no automatic redemption (`redemption.automatic`)")
        try:
            configure_automatic(self.lc, mem.book, auto_settings(config.automatic, ev.data))
        except AutoSettingsInvalid as exc:
            raise Reject(f"{exc.code}: {exc.message}") from None

    def on_refund(self, mem: Member, ev: Event) -> None:
        record = mem.orders.get(ev.data["order_id"])
        if record is None:
            raise Reject(f"order {ev.data['order_id']} is unknown for member "
                         f"{mem.book.member_id} (or not among their {REFUNDABLE_ORDERS} most "
                         "recent orders)")
        amount = money(ev.data["amount"], "amount") if "amount" in ev.data else None
        try:
            step = refund(self.lc, mem.book, record, ev.at, f"{record.order_id}/{ev.line}",
                          amount=amount, records=mem.orders)
        except RefundRefused as exc:
            raise Reject(f"{exc.code}: {exc}") from None
        self.apply(mem, step, ev.at)
        self.tally.refund(record, step, ev.at)

    def on_adjust(self, mem: Member, ev: Event) -> None:
        try:
            step = adjust(self.lc, mem.book, int(ev.data["points"]), ev.at, f"{ev.line}:adjust",
                          mem.orders)
        except AdminRefused as exc:
            raise Reject(f"{exc.code}: {exc.message}") from None
        self.apply(mem, step, ev.at)

    def on_status(self, mem: Member, ev: Event) -> None:
        try:
            step = set_status(self.lc, mem.book, ev.data["status"], ev.at, f"{ev.line}:status",
                              mem.orders)
        except AdminRefused as exc:
            raise Reject(f"{exc.code}: {exc.message}") from None
        for record in step.released:  # closing released the member's holds
            mem.redemptions.pop(record.id, None)
        self.apply(mem, step, ev.at)

    # ---------------------------------------------------------------- memory
    @staticmethod
    def keep(records: dict[str, Any], key: str, record: Any, limit: int) -> None:
        records[key] = record
        while len(records) > limit:
            del records[next(iter(records))]

    def release(self) -> None:
        """Drop a finished replay's members and per-member tallies. A replay refers to itself
        (its handlers are its own bound methods), so it is freed only by the cyclic
        collector, which would walk everything it still holds (about 11 µs per event
        replayed; engine/simulation/partition.py `few_collections`); what it no longer holds
        is freed at once by reference counting (50,000 events: 258,000 of the 279,000
        objects, in 0.06 s)."""
        self.members.clear()
        self.tally.release()

    def finish(self, end: datetime) -> None:
        """Bring every book to the end of the history (expiry, downgrades)."""
        for mem in self.members.values():
            self.apply(mem, self.lc.advance(mem.book, end), end)
        self.tally.finish(self.members.values(), end, self.tier_ids)
