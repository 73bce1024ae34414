"""Records the core hands back and gets again later: what a committed order used (for
its refunds) and what a redemption drew (for its cancel or release).

The store keeps them as JSON on the order and redemption rows; the simulator keeps them
in memory. `to_json`/`from_json` are the only translation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine.lifecycle.changes import Draw, Entry

ZERO = Decimal(0)


@dataclass(slots=True)
class OrderLine:
    quantity: int
    amount: Decimal  # net of the line discount
    eligible: Decimal  # what earned points and counts for qualification
    points: Decimal  # the line's exact (unrounded) points


@dataclass(slots=True)
class Payment:
    """A checkout hold captured by the order: points that paid for it."""

    redemption: str
    kind: str  # points | reward
    points: int
    draws: tuple[Draw, ...]
    given_back: int = 0


@dataclass(slots=True)
class AfterCommit:
    """What happened to an order after its commit: the holds it captured and its refunds.
    Almost every order has none, so a record makes this only when first asked for it."""

    payments: list[Payment] = field(default_factory=list)
    refunded: dict[int, int] = field(default_factory=dict)  # line index → quantity
    refunded_amount: Decimal = ZERO
    reversed: dict[str, int] = field(default_factory=dict)  # rule → points taken back
    lost: dict[int, int] = field(default_factory=dict)  # lot → points lost to expiry
    cashback_back: Decimal = ZERO


# Order records live as long as an order stays refundable (the simulator keeps thousands
# per worker): equal (rule, points) pairs are kept once, and so are zero amounts (by their
# text: the same digits and exponent).
_PAIRS: dict[tuple[str, int], tuple[str, int]] = {}
_PAIRS_LIMIT = 1 << 16
_ZEROS: dict[str, Decimal] = {}


def _shared_pairs(pairs: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    if len(_PAIRS) > _PAIRS_LIMIT:
        _PAIRS.clear()
    return tuple([_PAIRS.setdefault(pair, pair) for pair in pairs])


def _shared_zero(value: Decimal) -> Decimal:
    return value or _ZEROS.setdefault(str(value), value)


def _same(value: Decimal, other: Decimal) -> Decimal:
    """`other` where `value` is written exactly as it is (an order's spend is almost
    always its net amount), else `value`."""
    return other if not value.compare_total(other) else value


class OrderRecord:
    """A committed order, as its refunds need it: what it earned and used, by rule and
    lot, and (`AfterCommit`, made on first use) what captured holds paid for it and what
    refunds and expiry took since. The keyword arguments are the attributes."""

    __slots__ = ("_after", "_challenges", "budgeted", "by_rule", "campaigns", "caps",
                 "cashback", "codes", "first_purchase", "lines", "lot", "net", "order_id",
                 "placed_at", "spend")

    def __init__(self, order_id: str, placed_at: datetime,
                 lines: tuple[OrderLine, ...],  # () where only amounts are refunded
                 net: Decimal,  # the lines' net amounts
                 spend: Decimal,  # their eligible amounts: what counts for qualification
                 by_rule: tuple[tuple[str, int], ...],  # the order's points by rule
                 cashback: Decimal,
                 lot: int | None,  # the lot the order's points opened
                 first_purchase: tuple[int, int | None] | None = None,  # bonus (points, lot)
                 caps: tuple[tuple[str, str, Decimal], ...] = (),  # (rotation rule, period, spend)
                 challenges: tuple[tuple[str, datetime, Decimal], ...] = (),  # (campaign, started, spend)
                 campaigns: tuple[tuple[str, int], ...] = (),  # (campaign id, points)
                 budgeted: tuple[str, ...] = (),  # campaigns with a shared budget
                 codes: tuple[tuple[str, str], ...] = (),  # coupon codes used (code, campaign)
                 payments: list[Payment] | None = None,
                 refunded: dict[int, int] | None = None,
                 refunded_amount: Decimal = ZERO,
                 reversed: dict[str, int] | None = None,
                 lost: dict[int, int] | None = None,
                 cashback_back: Decimal = ZERO) -> None:
        self.order_id, self.placed_at, self.lines = order_id, placed_at, lines
        self.net, self.spend = net, _same(spend, net)
        self.by_rule, self.cashback = _shared_pairs(by_rule), _shared_zero(cashback)
        self.lot, self.first_purchase = lot, first_purchase
        self.caps, self.challenges, self.campaigns = caps, challenges, campaigns
        self.budgeted, self.codes = budgeted, codes
        self._after: AfterCommit | None = None
        if payments or refunded or refunded_amount or reversed or lost or cashback_back:
            self._after = AfterCommit(
                [] if payments is None else payments, {} if refunded is None else refunded,
                refunded_amount, {} if reversed is None else reversed,
                {} if lost is None else lost, cashback_back)

    @property
    def challenges(self) -> tuple[tuple[str, datetime, Decimal], ...]:
        return self._challenges

    @challenges.setter
    def challenges(self, value: tuple[tuple[str, datetime, Decimal], ...]) -> None:
        # a challenge counts the order's spend: one Decimal for both where they are equal
        spend = self.spend
        self._challenges = tuple([(c, started, _same(part, spend))
                                  for c, started, part in value]) if value else ()

    def _later(self) -> AfterCommit:
        after = self._after
        if after is None:
            after = self._after = AfterCommit()
        return after

    # What happened after the commit, read and written as the record's own attributes.
    @property
    def payments(self) -> list[Payment]:
        return self._later().payments

    @payments.setter
    def payments(self, value: list[Payment]) -> None:
        self._later().payments = value

    @property
    def refunded(self) -> dict[int, int]:
        return self._later().refunded

    @refunded.setter
    def refunded(self, value: dict[int, int]) -> None:
        self._later().refunded = value

    @property
    def refunded_amount(self) -> Decimal:
        return ZERO if self._after is None else self._after.refunded_amount

    @refunded_amount.setter
    def refunded_amount(self, value: Decimal) -> None:
        self._later().refunded_amount = value

    @property
    def reversed(self) -> dict[str, int]:
        return self._later().reversed

    @reversed.setter
    def reversed(self, value: dict[str, int]) -> None:
        self._later().reversed = value

    @property
    def lost(self) -> dict[int, int]:
        return self._later().lost

    @lost.setter
    def lost(self, value: dict[int, int]) -> None:
        self._later().lost = value

    @property
    def cashback_back(self) -> Decimal:
        return ZERO if self._after is None else self._after.cashback_back

    @cashback_back.setter
    def cashback_back(self, value: Decimal) -> None:
        self._later().cashback_back = value

    def _fields(self) -> tuple[Any, ...]:
        after = self._after or AfterCommit()
        return (self.order_id, self.placed_at, self.lines, self.net, self.spend,
                self.by_rule, self.cashback, self.lot, self.first_purchase, self.caps,
                self.challenges, self.campaigns, self.budgeted, self.codes, after.payments,
                after.refunded, after.refunded_amount, after.reversed, after.lost,
                after.cashback_back)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderRecord):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    def __repr__(self) -> str:
        return (f"OrderRecord(order_id={self.order_id!r}, placed_at={self.placed_at!r}, "
                f"by_rule={self.by_rule!r}, lot={self.lot!r})")

    @property
    def points(self) -> int:
        return sum(points for _, points in self.by_rule)

    def note_expired(self, draws: tuple[Draw, ...]) -> None:
        """An `expire` entry drew on this order's lots: those points are lost, and a
        refund never takes them back (a refund cannot make expiry a debt)."""
        mine = {self.lot, self.first_purchase[1] if self.first_purchase else None}
        lost = None
        for draw in draws:
            if draw.lot in mine:
                lost = self.lost if lost is None else lost
                lost[draw.lot] = lost.get(draw.lot, 0) + draw.points

    def refunded_money(self) -> Decimal:
        """The amount refunded so far (by amount, or by lines)."""
        if self.refunded_amount:
            return self.refunded_amount
        return sum((ln.amount * self.refunded.get(i, 0) / ln.quantity
                    for i, ln in enumerate(self.lines)), ZERO)


@dataclass(slots=True)
class RedemptionRecord:
    """A redemption whose points left the book: enough to put them back."""

    id: str
    kind: str  # points | reward | automatic | gift (a milestone's reward, 0 points)
    status: str  # completed held captured released cancelled refunded
    points: int
    draws: tuple[Draw, ...]
    at: datetime
    order_id: str | None = None
    reward_id: str | None = None
    quantity: int = 1
    hold_expires_at: datetime | None = None
    counted_in: str | None = None  # automatic: the frequency period it counted in


def order_of(source: str) -> str | None:
    """The order whose lot a draw names (the order's points, or its first-purchase
    bonus), or None."""
    if source.startswith("order:"):
        return source[6:]
    if source.startswith("activity:order:"):
        return source[15:]
    return None


def expired_orders(entries: list[Entry]) -> dict[str, tuple[Draw, ...]]:
    """The draws of `expire` entries, by the order whose lots they drew on: each is for
    `OrderRecord.note_expired` of that order, wherever the record is kept."""
    out: dict[str, tuple[Draw, ...]] = {}
    for entry in entries:
        if entry.kind != "expire":
            continue
        for draw in entry.draws:
            order = order_of(draw.source)
            if order is not None:
                out[order] = out.get(order, ()) + (draw,)
    return out


# ---------------------------------------------------------------- JSON

def _t(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def draws_json(draws: tuple[Draw, ...]) -> list[list[Any]]:
    return [[d.lot, d.points, _t(d.expires_at), _t(d.earned_at), d.source] for d in draws]


def draws_from(data: list[list[Any]]) -> tuple[Draw, ...]:
    return tuple(Draw(int(lot), int(points), _at(exp), _at(earned), src)  # type: ignore[arg-type]
                 for lot, points, exp, earned, src in data)


def order_json(r: OrderRecord) -> dict[str, Any]:
    return {
        "order_id": r.order_id, "placed_at": _t(r.placed_at),
        "lines": [[ln.quantity, str(ln.amount), str(ln.eligible), str(ln.points)]
                  for ln in r.lines],
        "net": str(r.net), "spend": str(r.spend),
        "by_rule": [list(item) for item in r.by_rule], "cashback": str(r.cashback),
        "lot": r.lot,
        "first_purchase": list(r.first_purchase) if r.first_purchase else None,
        "caps": [[rule, period, str(spend)] for rule, period, spend in r.caps],
        "challenges": [[c, _t(started), str(spend)] for c, started, spend in r.challenges],
        "campaigns": [list(c) for c in r.campaigns], "budgeted": list(r.budgeted),
        **({"codes": [list(c) for c in r.codes]} if r.codes else {}),
        "payments": [[p.redemption, p.kind, p.points, draws_json(p.draws), p.given_back]
                     for p in r.payments],
        "refunded": {str(k): v for k, v in r.refunded.items()},
        "refunded_amount": str(r.refunded_amount), "reversed": dict(r.reversed),
        "lost": {str(k): v for k, v in r.lost.items()},
        "cashback_back": str(r.cashback_back),
    }


def order_from(data: dict[str, Any]) -> OrderRecord:
    placed = _at(data["placed_at"])
    assert placed is not None
    first = data.get("first_purchase")
    return OrderRecord(
        order_id=data["order_id"], placed_at=placed,
        lines=tuple(OrderLine(int(q), Decimal(a), Decimal(e), Decimal(p))
                    for q, a, e, p in data["lines"]),
        net=Decimal(data["net"]), spend=Decimal(data["spend"]),
        by_rule=tuple((rule, int(points)) for rule, points in data["by_rule"]),
        cashback=Decimal(data["cashback"]), lot=data.get("lot"),
        first_purchase=(int(first[0]), first[1]) if first else None,
        caps=tuple((rule, period, Decimal(spend)) for rule, period, spend in data["caps"]),
        challenges=tuple((c, _at(s), Decimal(sp))  # type: ignore[misc]
                         for c, s, sp in data["challenges"]),
        campaigns=tuple((c, int(p)) for c, p in data["campaigns"]),
        budgeted=tuple(data.get("budgeted") or ()),
        codes=tuple((str(c), str(k)) for c, k in data.get("codes") or ()),
        payments=[Payment(rid, kind, int(points), draws_from(draws), int(back))
                  for rid, kind, points, draws, back in data.get("payments") or ()],
        refunded={int(k): int(v) for k, v in (data.get("refunded") or {}).items()},
        refunded_amount=Decimal(data.get("refunded_amount", "0")),
        reversed={k: int(v) for k, v in (data.get("reversed") or {}).items()},
        lost={int(k): int(v) for k, v in (data.get("lost") or {}).items()},
        cashback_back=Decimal(data.get("cashback_back", "0")),
    )


def redemption_json(r: RedemptionRecord) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "status": r.status, "points": r.points,
            "draws": draws_json(r.draws), "at": _t(r.at), "order_id": r.order_id,
            "reward_id": r.reward_id, "quantity": r.quantity,
            "hold_expires_at": _t(r.hold_expires_at), "counted_in": r.counted_in}


def redemption_from(data: dict[str, Any]) -> RedemptionRecord:
    at = _at(data["at"])
    assert at is not None
    return RedemptionRecord(
        id=str(data["id"]), kind=data["kind"], status=data["status"],
        points=int(data["points"]), draws=draws_from(data["draws"]), at=at,
        order_id=data.get("order_id"), reward_id=data.get("reward_id"),
        quantity=int(data.get("quantity", 1)), hold_expires_at=_at(data.get("hold_expires_at")),
        counted_in=data.get("counted_in"))
