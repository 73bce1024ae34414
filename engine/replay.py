"""Replay of one member's events against one program: the simulator's inner loop.

For every order the member's state is built from the in-memory book (engine/ledger.py),
the engine evaluates the order exactly as the checkout would, and the result is applied:
points credited as a lot, caps, campaign usage and challenge spend recorded, the tier
settled. Enrolment and activity events (engine/simactivities.py) and stand-alone
redemption events are applied from the ruleset's `earning.activities` and `redemption`
sections, because the engine evaluates orders only. Shared limits (campaign budgets,
reward stock) go through a `Pool`, which makes them exact when members are split across
processes (engine/partition.py); referrals, which join two members, are decided from the
referral events alone, which every process reads (engine/simactivities.py).

Refunds follow the program's `redemption.refund_policy` as the store does (the decisions
are engine/policies.py's): the first-purchase bonus leaves with an order refunded in
full, and under `clawback` what was spent is taken back too, down to a debt that later
credits repay first (engine/ledger.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol

from engine import calendar
from engine.evaluate import evaluate_request
from engine.history import Event, money
from engine.ledger import Lot, OrderRecord, PointBook, TierRules, TierTrack
from engine.policies import bonus_share, refund_before_order, refund_policy, to_reverse
from engine.program import Program
from engine.redeem import AutoSettingsInvalid, assess, auto_settings
from engine.request import Redeem, RequestInvalid, member_problems, order_request
from engine.simactivities import Activities, Referral
from engine.simstats import Stats, month_key, months_between, next_month_start
from engine.state import MemberState

ZERO, ONE = Decimal(0), Decimal(1)
# An order stays refundable in the simulation for 400 days and while it is among the
# member's 20 most recent: memory then grows with members, not with the history's length.
REFUND_WINDOW = 400 * 86400.0
REFUNDABLE_ORDERS = 20


class Reject(Exception):
    """The event cannot be applied; it is counted and reported with its line number."""


class Pool(Protocol):
    def sync(self, line: int) -> None: ...
    def budget_used(self, campaign: str) -> int: ...
    def add_budget(self, campaign: str, points: int) -> None: ...
    def stock_left(self, reward: str) -> int | None: ...
    def take_stock(self, reward: str, quantity: int) -> None: ...


class Member:
    __slots__ = (
        "activities",
        "attribute_errors",
        "attributes",
        "auto",
        "auto_used",
        "awarded",
        "campaign_usage",
        "caps",
        "challenges",
        "id",
        "last_ts",
        "orders",
        "orders_count",
        "points",
        "tier",
        "tier_since",
        "timeline",
        "track",
    )

    def __init__(self, member_id: str, attributes: dict[str, Any], track: TierTrack | None,
                 tier: int, ts: float) -> None:
        self.id, self.attributes, self.track, self.tier = member_id, attributes, track, tier
        self.auto: dict[str, Any] | None = None  # automatic-redemption settings, if opted in
        self.auto_used: tuple[str, int] = ("", 0)  # (frequency period, redemptions in it)
        # What the engine says about the member's attributes, checked once, not per order.
        self.attribute_errors = member_problems({"id": member_id, "attributes": attributes})
        self.points = PointBook()
        self.awarded: set[str] = set()
        self.orders_count = 0
        self.orders: dict[str, OrderRecord] = {}
        self.caps: dict[str, list[Any]] = {}  # rule → [period key, spend, cap reached]
        self.campaign_usage: dict[str, int] = {}
        self.challenges: dict[str, list[Any]] = {}  # campaign → [window end ts, spend]
        self.activities: dict[str, list[Any]] = {}  # activity → [period key, count]
        self.timeline: list[tuple[float, int]] = [(ts, tier)]
        self.last_ts = ts
        self.tier_since = ts


class Replay:
    def __init__(self, program: Program, pool: Pool, stats: Stats,
                 owns: Callable[[str], bool] | None = None) -> None:
        self.program, self.pool, self.stats = program, pool, stats
        # Which members this process keeps (all of them, unless partitioned).
        self.owns: Callable[[str], bool] = owns or (lambda member_id: True)
        model = program.model
        self.tz = program.timezone
        self.tiers = TierRules.from_model(model.tiers, self.tz)
        self.tier_ids = self.tiers.ids if self.tiers else ("none",)
        self.rotations = {r.rule_id: r for r in model.rotations if r.cap_spend is not None}
        self.challenge_days = {c.id: c.window_days or 0 for c in model.campaigns
                               if c.type == "tier_challenge"}
        self.budgeted = {c.id: c for c in model.campaigns if c.budget_points is not None}
        self.stocked = {r.id for r in model.redemption.catalog if r.stock is not None} \
            if model.redemption else set()
        self.upgrade_bonus = {t.id: t.upgrade_bonus for t in model.tiers.levels} \
            if model.tiers else {}
        self.policy = refund_policy(model.redemption)
        self.members: dict[str, Member] = {}
        self.acts = Activities(self)

    # ---------------------------------------------------------------- the loop
    def handle(self, ev: Event) -> None:
        ts = ev.at.timestamp()
        loc = ev.at.astimezone(self.tz)
        stats = self.stats
        # A referral joins two members: decided first, by every process, the same way.
        referral = self.acts.referral(ev, ts, loc) if ev.joins_members else None
        if ev.foreign:  # another process's member's event: only its referral side was ours
            return
        mem = self.members.get(ev.member_id)
        if ev.type == "enroll":
            if mem is not None:
                raise Reject(f"member {ev.member_id} is already enrolled")
            self.enroll(ev, ts, loc, referral)
        else:
            if mem is None:
                mem = self.new_member(ev.member_id, {}, None, ts)
                stats.members_implicit += 1
            elif ts < mem.last_ts:
                raise Reject(f"event at {ev.data['at']} is earlier than member "
                             f"{ev.member_id}'s previous event; histories must be in time order")
            self.advance(mem, ts, loc.year)
            if ev.type == "activity":
                self.acts.activity(mem, ev, ts, loc, referral)
            else:
                getattr(self, ev.type)(mem, ev, ts, loc)
            mem.last_ts = ts
        stats.processed += 1
        stats.by_type[ev.type] += 1
        if stats.first_month is None:
            stats.first_month = month_key(loc)
        stats.last_ts = max(stats.last_ts, ts)

    def new_member(self, member_id: str, attributes: dict[str, Any], tier: str | None,
                   ts: float) -> Member:
        index = self.tier_ids.index(tier) if tier in self.tier_ids else 0
        track = TierTrack(self.tiers, index) if self.tiers else None
        mem = self.members[member_id] = Member(member_id, attributes, track, index, ts)
        self.stats.members += 1
        return mem

    def advance(self, mem: Member, ts: float, local_year: int) -> None:
        """Expire due points and move the tier window up to `ts` (downgrades happen here)."""
        points = mem.points
        if points.next_expiry <= ts:
            expired = points.expire_until(ts)
            lots = {lot.id: lot for r in mem.orders.values()
                    for lot in (r.earned, r.bonus) if lot is not None}
            for lot_id, when, amount in expired:
                key = month_key(datetime.fromtimestamp(when, self.tz))
                self.stats.month(key)["expired"] += amount
                self.stats.expired += amount
                if lot_id in lots:  # a refund of its order cannot take these back
                    lots[lot_id].lost += amount
        if mem.track is None:
            return
        for boundary, index in mem.track.roll(ts, local_year):
            self.set_tier(mem, index, boundary)
        self.set_tier(mem, mem.track.effective(ts), ts)

    def set_tier(self, mem: Member, index: int, ts: float) -> None:
        if index == mem.tier:
            return
        if index > mem.tier:
            self.stats.upgrades += 1
        else:
            self.stats.downgrades += 1
        mem.tier, mem.tier_since = index, ts
        mem.timeline.append((ts, index))

    def credit(self, mem: Member, points: int, ts: float, at: datetime, month: str) -> Any:
        if points <= 0:
            return None
        expires = calendar.expiry_at(self.program, at)
        self.stats.issued += points
        self.stats.month(month)["issued"] += points
        return mem.points.credit(points, None if expires is None else expires.timestamp())

    # ---------------------------------------------------------------- events
    def enroll(self, ev: Event, ts: float, loc: datetime, referral: Referral | None) -> None:
        tier = ev.data.get("tier")
        if tier is not None and tier not in self.tier_ids:
            raise Reject(f"unknown tier {tier!r}")
        mem = self.new_member(ev.member_id, dict(ev.data.get("attributes") or {}), tier, ts)
        self.acts.enrolled(mem, ev, ts, loc, referral)

    def cap_key(self, rule: str, loc: datetime) -> str:
        rotation = self.rotations[rule]
        if rotation.cap_period == "rotation":
            return rotation.id
        return calendar.period_of(rotation.cap_period, loc.date())

    def cap_held(self, mem: Member, rule: str, loc: datetime) -> list[Any]:
        """[period key, spend used, cap reached] of the cap period containing `loc`."""
        key = self.cap_key(rule, loc)
        held = mem.caps.get(rule)
        if held is None or held[0] != key:
            held = mem.caps[rule] = [key, ZERO, False]
        return held

    def member_state(self, mem: Member, loc: datetime) -> MemberState:
        caps = {}
        for rule, held in mem.caps.items():
            if held[0] == self.cap_key(rule, loc):
                caps[rule] = held[1]
        ts = loc.timestamp()
        challenge = {cid: c[1] for cid, c in mem.challenges.items() if ts < c[0]}
        track = mem.track
        first = mem.activities.get("first_purchase")
        return MemberState(
            tier=self.tiers.ids[mem.tier] if self.tiers else None, balance=mem.points.balance,
            orders_count=mem.orders_count,
            qualifying_spend=track.spend if track else ZERO,
            qualifying_orders=track.orders if track else 0,
            cap_usage=caps, campaign_usage=mem.campaign_usage,
            campaign_budget_used={c: self.pool.budget_used(c) for c in self.budgeted},
            challenge_spend=challenge,
            activity_counts={"first_purchase": first[1]} if first else {},
            awarded_upgrades=frozenset(mem.awarded),
            tier_since=datetime.fromtimestamp(mem.tier_since, self.tz))

    def touches_pool(self, ev: Event, loc: datetime) -> bool:
        redeem = ev.data.get("redeem") or {}
        if redeem.get("reward_id") in self.stocked:
            return True
        day = loc.date()
        return any(not ((c.schedule.start and day < c.schedule.start)
                        or (c.schedule.end and day > c.schedule.end))
                   for c in self.budgeted.values())

    def order(self, mem: Member, ev: Event, ts: float, loc: datetime) -> None:
        order = ev.data["order"]
        if order["id"] in mem.orders:
            raise Reject(f"order {order['id']} was already recorded")
        order.setdefault("placed_at", ev.data["at"])
        if self.touches_pool(ev, loc):
            self.pool.sync(ev.line)
        state = self.member_state(mem, loc)
        member = {"id": mem.id, "tier": state.tier, "points_balance": state.balance,
                  "attributes": mem.attributes}
        redeem = ev.data.get("redeem")
        if redeem:
            state.reward_stock = {r: left for r in self.stocked
                                  if (left := self.pool.stock_left(r)) is not None}
        try:
            # The same as evaluate(program, {"member", "order", "redeem"}), with the
            # member's attributes checked once (at enrolment) instead of per order.
            request = order_request(member, mem.attribute_errors, order, redeem or None)
            result = evaluate_request(self.program, request, state, summary=True)
        except RequestInvalid as exc:
            raise Reject(str(exc)) from None
        self.apply_order(mem, ev, ts, loc, result)

    def apply_order(self, mem: Member, ev: Event, ts: float, loc: datetime,
                    result: dict[str, Any]) -> None:
        stats, month = self.stats, month_key(loc)
        earn = result["earn"]
        points = earn["points"]
        for rule, pts in earn["by_rule"].items():
            stats.by_rule[rule] += pts
        for line in earn["lines"]:
            stats.by_category[line["category"]] += line["points"]
        bonus = 0
        upgrade = result["upgrade"]
        if upgrade:
            for rule in upgrade.get("rules", ()):
                tier_id = rule.split(".")[1]
                stats.by_rule[rule] += self.upgrade_bonus.get(tier_id, 0)
                mem.awarded.add(tier_id)
            bonus += upgrade["bonus_points"]
        first = 0
        for act in result["activities"]:  # first purchase: its own lot, as in the store
            first += act["points"]
            stats.by_rule[act["rule"]] += act["points"]
            stats.activities[act["activity"]] += 1
            seen = mem.activities.setdefault(act["activity"], ["lifetime", 0])
            seen[1] += 1
        earned = Lot(tuple(earn["by_rule"].values()), self.credit(mem, points, ts, ev.at, month))
        first_lot = Lot((first,), self.credit(mem, first, ts, ev.at, month)) if first else None
        self.credit(mem, bonus, ts, ev.at, month)
        cashback = Decimal(earn["cashback"])
        stats.cashback_paid += cashback
        usage = result["usage"]
        used_caps = []
        for cap in usage["caps"]:
            held = self.cap_held(mem, cap["rule"], loc)
            spend_used = Decimal(cap["spend"])
            held[1] += spend_used
            used_caps.append((cap["rule"], held[0], spend_used))
        for rule in usage["caps_hit"]:
            stats.caps_orders_over[rule] += 1
            held = self.cap_held(mem, rule, loc)
            if not held[2]:
                held[2] = True
                stats.caps_reached[rule] += 1
        for c in result["campaigns"]:
            cid = c["id"]
            mem.campaign_usage[cid] = mem.campaign_usage.get(cid, 0) + 1
            stats.campaign_points[cid] += c["points"]
            stats.campaign_orders[cid] += 1
            if cid in self.budgeted and c["points"]:
                self.pool.add_budget(cid, c["points"])
            if c.get("tier_advance"):
                mem.challenges.pop(cid, None)
        for ch in usage["challenges"]:
            window = mem.challenges.get(ch["id"])
            if window is None or ts >= window[0]:
                days = self.challenge_days.get(ch["id"], 0)
                window = mem.challenges[ch["id"]] = [ts + days * 86400.0, ZERO]
            challenge_spend = Decimal(ch["spend"])
            window[1] += challenge_spend
            used_caps.append((ch["id"], window, challenge_spend))  # the window itself
        spend = sum((line["eligible_amount"] for line in earn["lines"]), ZERO)
        stats.orders += 1
        stats.spend += spend
        stats.month(month)["orders"] += 1
        mem.orders_count += 1
        used_campaigns = tuple(c["id"] for c in result["campaigns"])
        used = (tuple(used_caps), used_campaigns) if used_caps or used_campaigns else None
        self.settle_tier(mem, ts, loc, spend, result, Decimal(result["order"]["subtotal"]),
                         (earned, first_lot), cashback, used)
        redemption = result["redemption"]
        if ev.data.get("redeem"):
            self.apply_redemption(mem, redemption, month)
        if mem.auto is not None:
            self.redeem_automatically(mem, loc, month)

    def redeem_automatically(self, mem: Member, loc: datetime, month: str) -> None:
        """After an order, as the store's commit does: redeem `unit` points while the
        balance stays at or above the member's threshold and the frequency limit allows."""
        settings = mem.auto
        assert settings is not None
        if not settings["enabled"]:
            return
        frequency = settings["frequency"]
        period = calendar.period_of(frequency["per"], loc.date()) if frequency else ""
        used = mem.auto_used[1] if mem.auto_used[0] == period else 0
        unit, stats = settings["unit"], self.stats
        while mem.points.balance >= settings["threshold"]:
            if frequency and used >= frequency["count"]:
                break
            mem.points.redeem(unit)
            used += 1
            stats.redeemed += unit
            stats.month(month)["redeemed"] += unit
            stats.redemptions[f"automatic:{settings['method']}"] += 1
        mem.auto_used = (period, used)

    def settle_tier(self, mem: Member, ts: float, loc: datetime, spend: Decimal,
                    result: dict[str, Any], subtotal: Decimal, lots: tuple[Lot, Lot | None],
                    cashback: Decimal, used: Any = None) -> None:
        track = mem.track
        entry = track.add_order(ts, spend) if track else None
        if track is not None:
            # Only a tier the engine grants beyond qualification (a tier challenge) is
            # recorded; qualification itself is recomputed from the window's spend.
            after = result["tier_after"]
            advanced = any(c.get("tier_advance") for c in result["campaigns"])
            index = self.tier_ids.index(after) if advanced and after in self.tier_ids else 0
            track.settle(index, entry)
            self.set_tier(mem, track.effective(ts), ts)
        record = OrderRecord(subtotal, spend, lots[0], lots[1], cashback,
                             track.window_id if track else None, entry, ts, used)
        orders = mem.orders
        orders[result["order"]["id"]] = record
        while orders:  # insertion order is time order: drop what can no longer be refunded
            oldest = next(iter(orders))
            if len(orders) <= REFUNDABLE_ORDERS and orders[oldest].at >= ts - REFUND_WINDOW:
                break
            del orders[oldest]

    def apply_redemption(self, mem: Member, redemption: dict[str, Any], month: str) -> None:
        if not redemption["eligible"]:
            for reason in redemption["reasons"]:
                self.stats.redemptions[f"declined:{reason['code']}"] += 1
            return
        points = redemption.get("points", 0)
        if points > mem.points.balance:  # a denial the engine did not see (stale balance)
            self.stats.redemptions["declined:INSUFFICIENT_POINTS"] += 1
            return
        if redemption.get("reward_id") in self.stocked:
            self.pool.take_stock(redemption["reward_id"], redemption.get("quantity", 1))
        if points:
            mem.points.redeem(points)
        self.stats.redeemed += points
        self.stats.month(month)["redeemed"] += points
        self.stats.redemptions["accepted"] += 1

    def auto_redemption(self, mem: Member, ev: Event, ts: float, loc: datetime) -> None:
        """The member opts in to automatic redemption (or changes or pauses it), with the
        checks of the store's `PUT …/members/{id}/auto-redemption`."""
        config = self.program.model.redemption
        if config is None or config.automatic is None:
            raise Reject("this program offers no automatic redemption (`redemption.automatic`)")
        try:
            mem.auto = auto_settings(config.automatic, ev.data)
        except AutoSettingsInvalid as exc:
            raise Reject(f"{exc.code}: {exc.message}") from None

    def redemption(self, mem: Member, ev: Event, ts: float, loc: datetime) -> None:
        data = ev.data
        config = self.program.model.redemption
        reward = data.get("reward_id")
        if reward in self.stocked:
            self.pool.sync(ev.line)
        stock = {r: left for r in self.stocked if (left := self.pool.stock_left(r)) is not None}
        request = Redeem(points=data.get("points"), reward_id=reward,
                         quantity=data.get("quantity", 1))
        total = money(data["order_total"], "order_total") if "order_total" in data else None
        result = assess(config, request, balance=mem.points.balance,
                        tier=self.tier_ids[mem.tier] if self.tiers else None,
                        order_total=total, stock=stock, denials=[])
        self.apply_redemption(mem, result, month_key(loc))

    def refund(self, mem: Member, ev: Event, ts: float, loc: datetime) -> None:
        record = mem.orders.get(ev.data["order_id"])
        if record is None:
            raise Reject(f"order {ev.data['order_id']} is unknown for member {mem.id} "
                         f"(or not among their {REFUNDABLE_ORDERS} most recent orders of the "
                         f"last 400 days)")
        too_early = refund_before_order(datetime.fromtimestamp(record.at, self.tz), ev.at)
        if too_early is not None:
            raise Reject(too_early)
        amount = money(ev.data["amount"], "amount") if "amount" in ev.data else None
        refunded, share, cashback, whole = record.refund(amount)
        if not refunded:
            raise Reject(f"order {ev.data['order_id']} is already fully refunded")
        stats = self.stats
        taken = mem.points.take_back([
            self.claim(mem, lot, lot_share) for lot, lot_share in (
                (record.earned, ONE if whole else share),
                (record.bonus, bonus_share("first_purchase", ONE if whole else share)))
            if lot is not None])
        stats.reversed += taken
        stats.month(month_key(loc))["reversed"] += taken
        stats.cashback_reversed += cashback
        stats.refunded += refunded
        if record.usage is not None:
            self.release_usage(mem, record, refunded, whole)
        if mem.track is not None:
            spend = record.spend * refunded / record.net if record.net else ZERO
            mem.track.refund(record.window_id, record.entry, spend, whole)
            self.set_tier(mem, mem.track.effective(ts), ts)

    def claim(self, mem: Member, lot: Lot, share: Decimal) -> tuple[int, int | None]:
        """(points to take back, lot) for a refunded `share` of one of an order's lots:
        what it owes beyond what was taken back before, as the refund policy says."""
        target, done = lot.share(share), lot.reversed
        points = to_reverse(self.policy, target - done, mem.points.held(lot.id),
                            lot.points - done - lot.lost)
        lot.reversed += points
        return points, lot.id

    @staticmethod
    def release_usage(mem: Member, record: OrderRecord, refunded: Decimal, whole: bool) -> None:
        """As the store does on a refund: the refunded share of the order's seasonal-cap
        spend comes back (in the order's own cap period) and of its tier-challenge spend
        (while that challenge window runs), and a whole refund gives back its campaign
        uses. (Campaign budgets are not given back in simulation.)"""
        caps, campaigns = record.usage
        after = record.refunded / record.net
        before = (record.refunded - refunded) / record.net
        step = Decimal("0.0001")
        for rule, key, spend in caps:
            back = (spend * after).quantize(step, rounding=ROUND_FLOOR) \
                - (spend * before).quantize(step, rounding=ROUND_FLOOR)
            if isinstance(key, list):  # a challenge window: still the one the order fed?
                if mem.challenges.get(rule) is key:
                    key[1] = max(ZERO, key[1] - back)
                continue
            held = mem.caps.get(rule)
            if held is not None and held[0] == key:
                held[1] = max(ZERO, held[1] - back)
        if whole:
            for cid in campaigns:
                if mem.campaign_usage.get(cid):
                    mem.campaign_usage[cid] -= 1

    # ---------------------------------------------------------------- the end
    def finish(self, end_ts: float) -> None:
        """Expire and re-tier every member at the end of the history; snapshot the tiers."""
        stats = self.stats
        end = datetime.fromtimestamp(end_ts, self.tz)
        for mem in self.members.values():
            self.advance(mem, end_ts, end.year)
            stats.tiers_end[self.tier_ids[mem.tier]] += 1
        if not stats.first_month:
            return
        months = months_between(stats.first_month, month_key(end))
        ends = [min(next_month_start(m, self.tz).timestamp(), end_ts + 1) for m in months]
        for mem in self.members.values():
            timeline, i, current = mem.timeline, 0, None
            for month, edge in zip(months, ends):
                while i < len(timeline) and timeline[i][0] < edge:
                    current = timeline[i][1]
                    i += 1
                if current is not None:
                    stats.tiers_by_month.setdefault(month, Counter())[self.tier_ids[current]] += 1
