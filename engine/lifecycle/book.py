"""A member's book: everything the lifecycle rules need to know about one member.

The store keeps one book per member (a compact JSON row, read and written under the
member's row lock); the simulator keeps the same books in memory. Both hand a book and
one event to the lifecycle core (`engine.lifecycle.core`), which returns the changed
book and what changed. Nothing outside the core writes a book.

What is not in a book: orders (a refund gets the record of its order, `OrderRecord`),
redemptions (a cancel gets the record of its redemption) and limits shared by members
(campaign budgets, reward stock), which the caller supplies and the core moves.

Instants are aware datetimes in UTC; money is Decimal; points are integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine.lifecycle.records import RedemptionRecord, redemption_from, redemption_json

ZERO = Decimal(0)
FORMAT = 1  # bumped when the JSON shape changes; `from_json` reads every older one


ORDER_SOURCE = "order:"


class Lot:
    """Points credited by one event, consumed oldest-expiry first. `no` numbers the
    member's lots from 1 in the order they were credited (the same in the store and the
    simulator, so a lot is named the same way in both). `source` names the event:
    "order:<id>", "activity:<event id>", "referral:<event id>", …; a lot of an order's
    points keeps only the order id (`Lot.of_order`), which its order record holds too."""

    __slots__ = ("_order", "_source", "earned_at", "expires_at", "left", "no", "points")

    def __init__(self, no: int, earned_at: datetime, expires_at: datetime | None,
                 points: int, left: int, source: str) -> None:
        self.no, self.earned_at, self.expires_at = no, earned_at, expires_at
        self.points = points  # credited
        self.left = left  # still spendable
        self._source, self._order = source, False

    @classmethod
    def of_order(cls, no: int, earned_at: datetime, expires_at: datetime | None,
                 points: int, left: int, order_id: str) -> Lot:
        """The lot of order `order_id`'s points (source "order:<order_id>")."""
        lot = cls(no, earned_at, expires_at, points, left, order_id)
        lot._order = True
        return lot

    @property
    def source(self) -> str:
        return ORDER_SOURCE + self._source if self._order else self._source

    def sort_key(self) -> tuple[bool, datetime, int]:
        return (self.expires_at is None, self.expires_at or self.earned_at, self.no)

    def _fields(self) -> tuple[Any, ...]:
        return (self.no, self.earned_at, self.expires_at, self.points, self.left, self.source)

    def __eq__(self, other: object) -> bool:
        return self._fields() == other._fields() if isinstance(other, Lot) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return ("Lot(no={!r}, earned_at={!r}, expires_at={!r}, points={!r}, left={!r}, "
                "source={!r})").format(*self._fields())


@dataclass(slots=True)
class Window:
    """Qualifying spend and orders counted in one tier window, and the highest tier
    granted in it beyond qualification (a met tier challenge, a tier given at
    enrolment; None: none)."""

    spend: Decimal = ZERO
    orders: int = 0
    granted: str | None = None
    # the tier index these totals qualify for, with the totals it was decided on (kept
    # in memory only, by `TierRules`: not part of the book's JSON)
    qualified: tuple[Decimal, int, int] | None = field(default=None, compare=False,
                                                       repr=False)

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, spend: Decimal = ZERO, orders: int = 0, granted: str | None = None,
                 qualified: tuple[Decimal, int, int] | None = None) -> None:
        self.spend = spend
        self.orders = orders
        self.granted = granted
        self.qualified = qualified


@dataclass(slots=True)
class Qualifying:
    """One order's part of rolling-window qualification (`rolling_12_months`)."""

    at: datetime
    order_id: str
    spend: Decimal
    orders: int  # 1, or 0 once the order is refunded in full
    granted: str | None = None


@dataclass(slots=True)
class Challenge:
    """A running tier challenge: spend counted from `started_at` until `ends_at`."""

    started_at: datetime
    ends_at: datetime | None
    spend: Decimal = ZERO

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, started_at: datetime, ends_at: datetime | None,
                 spend: Decimal = ZERO) -> None:
        self.started_at = started_at
        self.ends_at = ends_at
        self.spend = spend


@dataclass(slots=True)
class AutoSettings:
    enabled: bool
    threshold: int
    unit: int
    method: str
    frequency_count: int | None = None
    frequency_per: str | None = None


@dataclass(slots=True)
class Progress:
    """What the `engagement:` section counts for a member (kept only while the program
    declares milestones or alerts): lifetime qualifying spend and points credited (earn
    and bonus), the latest program-local month with an order and the run of consecutive
    months up to it, the milestones reached and badges given (in order), and the keys of
    the alerts raised that still stand (an alert is not raised again while its key is
    kept: engine/lifecycle/engagement.py)."""

    spend: Decimal = ZERO
    points: int = 0
    month: str = ""
    streak: int = 0
    milestones: list[str] = field(default_factory=list)
    badges: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, spend: Decimal = ZERO, points: int = 0, month: str = '',
                 streak: int = 0, milestones: list[str] | None = None,
                 badges: list[str] | None = None, alerts: list[str] | None = None) -> None:
        self.spend = spend
        self.points = points
        self.month = month
        self.streak = streak
        self.milestones = [] if milestones is None else milestones
        self.badges = [] if badges is None else badges
        self.alerts = [] if alerts is None else alerts


@dataclass(slots=True)
class MemberBook:
    member_id: str
    enrolled_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    tier: str | None = None
    tier_since: datetime | None = None
    best_tier: str | None = None  # the highest tier ever held (policy `never`)
    awarded_upgrades: list[str] = field(default_factory=list)
    orders_count: int = 0
    lots: list[Lot] = field(default_factory=list)  # open lots, in consumption order
    held: int = 0  # the points left in `lots`, kept with them
    next_lot: int = 1
    debt: int = 0  # points owed after a clawback took more than the member held
    # tier qualification: calendar windows by key ("2026", "lifetime"), rolling entries
    windows: dict[str, Window] = field(default_factory=dict)
    rolling: list[Qualifying] = field(default_factory=list)
    # usage: seasonal cap spend {rotation rule: (period, spend)}, campaign uses and
    # points {campaign id: [uses, points]}, tier challenges, activities {name: (period, n)}
    caps: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    campaigns: dict[str, list[int]] = field(default_factory=dict)
    challenges: dict[str, Challenge] = field(default_factory=dict)
    activities: dict[str, tuple[str, int]] = field(default_factory=dict)
    referred_by: str | None = None
    referred: list[str] = field(default_factory=list)  # friends this member referred
    auto: AutoSettings | None = None
    auto_used: tuple[str, int] = ("", 0)  # (frequency period, automatic redemptions)
    holds: list[RedemptionRecord] = field(default_factory=list)  # live checkout holds
    enrolments: list[str] = field(default_factory=list)  # opt-in campaigns joined, sorted
    last_at: datetime | None = None  # the latest instant the book was brought to
    # set by an administrator (engine/lifecycle/admin.py): active, suspended or closed,
    # and a tier held whatever qualification says, until an instant (None: no end)
    status: str = "active"
    tier_override: tuple[str, datetime | None] | None = None
    progress: Progress | None = None  # engagement counts (engine/lifecycle/engagement.py)

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, member_id: str, enrolled_at: datetime,
                 attributes: dict[str, Any] | None = None, tier: str | None = None,
                 tier_since: datetime | None = None, best_tier: str | None = None,
                 awarded_upgrades: list[str] | None = None, orders_count: int = 0,
                 lots: list[Lot] | None = None, held: int = 0, next_lot: int = 1,
                 debt: int = 0, windows: dict[str, Window] | None = None,
                 rolling: list[Qualifying] | None = None,
                 caps: dict[str, tuple[str, Decimal]] | None = None,
                 campaigns: dict[str, list[int]] | None = None,
                 challenges: dict[str, Challenge] | None = None,
                 activities: dict[str, tuple[str, int]] | None = None,
                 referred_by: str | None = None, referred: list[str] | None = None,
                 auto: AutoSettings | None = None, auto_used: tuple[str, int] = ('', 0),
                 holds: list[RedemptionRecord] | None = None,
                 enrolments: list[str] | None = None, last_at: datetime | None = None,
                 status: str = 'active',
                 tier_override: tuple[str, datetime | None] | None = None,
                 progress: Progress | None = None) -> None:
        self.member_id = member_id
        self.enrolled_at = enrolled_at
        self.attributes = {} if attributes is None else attributes
        self.tier = tier
        self.tier_since = tier_since
        self.best_tier = best_tier
        self.awarded_upgrades = [] if awarded_upgrades is None else awarded_upgrades
        self.orders_count = orders_count
        self.lots = [] if lots is None else lots
        self.held = held
        self.next_lot = next_lot
        self.debt = debt
        self.windows = {} if windows is None else windows
        self.rolling = [] if rolling is None else rolling
        self.caps = {} if caps is None else caps
        self.campaigns = {} if campaigns is None else campaigns
        self.challenges = {} if challenges is None else challenges
        self.activities = {} if activities is None else activities
        self.referred_by = referred_by
        self.referred = [] if referred is None else referred
        self.auto = auto
        self.auto_used = auto_used
        self.holds = [] if holds is None else holds
        self.enrolments = [] if enrolments is None else enrolments
        self.last_at = last_at
        self.status = status
        self.tier_override = tier_override
        self.progress = progress

    @property
    def balance(self) -> int:
        return self.held - self.debt

    def next_expiry(self) -> datetime | None:
        dated = [lot.expires_at for lot in self.lots if lot.expires_at is not None]
        return min(dated) if dated else None


# ---------------------------------------------------------------- JSON

def _t(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def to_json(book: MemberBook) -> dict[str, Any]:
    """The book as JSON data (strings for money and instants), stable key order."""
    return {
        "format": FORMAT, "member_id": book.member_id, "enrolled_at": _t(book.enrolled_at),
        "attributes": book.attributes, "tier": book.tier, "tier_since": _t(book.tier_since),
        "best_tier": book.best_tier, "awarded_upgrades": list(book.awarded_upgrades),
        "orders_count": book.orders_count,
        "lots": [[lot.no, _t(lot.earned_at), _t(lot.expires_at), lot.points, lot.left,
                  lot.source] for lot in book.lots],
        "next_lot": book.next_lot, "debt": book.debt,
        "windows": {k: [str(w.spend), w.orders, w.granted] for k, w in book.windows.items()},
        "rolling": [[_t(q.at), q.order_id, str(q.spend), q.orders, q.granted]
                    for q in book.rolling],
        "caps": {k: [p, str(s)] for k, (p, s) in book.caps.items()},
        "campaigns": {k: list(v) for k, v in book.campaigns.items()},
        "challenges": {k: [_t(c.started_at), _t(c.ends_at), str(c.spend)]
                       for k, c in book.challenges.items()},
        "activities": {k: [p, n] for k, (p, n) in book.activities.items()},
        "referred_by": book.referred_by, "referred": list(book.referred),
        "auto": None if book.auto is None else [
            book.auto.enabled, book.auto.threshold, book.auto.unit, book.auto.method,
            book.auto.frequency_count, book.auto.frequency_per],
        "auto_used": list(book.auto_used),
        "holds": [redemption_json(h) for h in book.holds], "last_at": _t(book.last_at),
        # written only when set, so books that never met an administrator keep their JSON
        **({"status": book.status} if book.status != "active" else {}),
        **({"tier_override": [book.tier_override[0], _t(book.tier_override[1])]}
           if book.tier_override is not None else {}),
        **({"enrolments": list(book.enrolments)} if book.enrolments else {}),
        **({"progress": _progress_json(book.progress)} if book.progress is not None else {}),
    }


def _progress_json(p: Progress) -> list[Any]:
    return [str(p.spend), p.points, p.month, p.streak, list(p.milestones), list(p.badges),
            list(p.alerts)]


def _progress(data: list[Any] | None) -> Progress | None:
    if not data:
        return None
    spend, pts, month, streak, milestones, badges, alerts = data
    return Progress(Decimal(spend), int(pts), str(month), int(streak), list(milestones),
                    list(badges), list(alerts))


def from_json(data: dict[str, Any]) -> MemberBook:
    auto = data.get("auto")
    enrolled = _at(data["enrolled_at"])
    assert enrolled is not None
    return MemberBook(
        member_id=data["member_id"], enrolled_at=enrolled,
        attributes=dict(data.get("attributes") or {}), tier=data.get("tier"),
        tier_since=_at(data.get("tier_since")), best_tier=data.get("best_tier"),
        awarded_upgrades=list(data.get("awarded_upgrades") or ()),
        orders_count=int(data.get("orders_count", 0)),
        lots=[Lot(no, _at(earned), _at(expires), points, left, source)  # type: ignore[arg-type]
              for no, earned, expires, points, left, source in data.get("lots") or ()],
        held=sum(int(lot[4]) for lot in data.get("lots") or ()),
        next_lot=int(data.get("next_lot", 1)), debt=int(data.get("debt", 0)),
        windows={k: Window(Decimal(s), int(n), g)
                 for k, (s, n, g) in (data.get("windows") or {}).items()},
        rolling=[Qualifying(_at(at), oid, Decimal(s), int(n), g)  # type: ignore[arg-type]
                 for at, oid, s, n, g in data.get("rolling") or ()],
        caps={k: (p, Decimal(s)) for k, (p, s) in (data.get("caps") or {}).items()},
        campaigns={k: [int(v[0]), int(v[1])] for k, v in (data.get("campaigns") or {}).items()},
        challenges={k: Challenge(_at(s), _at(e), Decimal(sp))  # type: ignore[arg-type]
                    for k, (s, e, sp) in (data.get("challenges") or {}).items()},
        activities={k: (p, int(n)) for k, (p, n) in (data.get("activities") or {}).items()},
        referred_by=data.get("referred_by"), referred=list(data.get("referred") or ()),
        auto=None if not auto else AutoSettings(bool(auto[0]), int(auto[1]), int(auto[2]),
                                                str(auto[3]), auto[4], auto[5]),
        auto_used=(str((data.get("auto_used") or ["", 0])[0]),
                   int((data.get("auto_used") or ["", 0])[1])),
        holds=[redemption_from(h) for h in data.get("holds") or ()],
        last_at=_at(data.get("last_at")),
        status=str(data.get("status") or "active"),
        tier_override=None if not data.get("tier_override") else (
            str(data["tier_override"][0]), _at(data["tier_override"][1])),
        enrolments=list(data.get("enrolments") or ()),
        progress=_progress(data.get("progress")),
    )


def snapshot(book: MemberBook) -> dict[str, Any]:
    """What a member's book says, for people and comparisons: the same JSON whether it
    comes from the simulator (`loyalty simulate --member-states`) or the service."""
    return {
        "member_id": book.member_id, "tier": book.tier, "tier_since": _t(book.tier_since),
        "balance": book.balance, "debt": book.debt, "orders_count": book.orders_count,
        "lots": [{"lot": lot.no, "earned_at": _t(lot.earned_at),
                  "expires_at": _t(lot.expires_at), "left": lot.left} for lot in book.lots],
        "cap_spend": {rule: {"period": period, "spend": str(spend)}
                      for rule, (period, spend) in sorted(book.caps.items())},
        "campaign_uses": {cid: used[0] for cid, used in sorted(book.campaigns.items())
                          if used[0]},
        "status": book.status,
        **({"enrolments": list(book.enrolments)} if book.enrolments else {}),
        **({"milestones": list(book.progress.milestones), "badges": list(book.progress.badges)}
           if book.progress is not None and book.progress.milestones else {}),
    }
