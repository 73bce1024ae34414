"""Evaluation request (DESIGN §5) → typed values, with every problem located.

Money arrives as decimal strings (numbers accepted); a bad value is reported with its
JSON path (`$.order.lines[2].unit_price: not a decimal amount: 'abc'`), never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

MAX_LINES = 500
MONEY_LIMIT = Decimal(1000000000)
ZERO = Decimal(0)


class RequestInvalid(ValueError):
    """The request is malformed; `.errors` holds (JSON path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = sorted(errors)
        super().__init__("; ".join(f"{p}: {m}" for p, m in self.errors))


class Line(NamedTuple):
    """One order line; `amount` = quantity × unit_price − discount (use `make_line`)."""

    index: int  # type: ignore[assignment]  # the line's position; shadows tuple.index
    sku: str
    category: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal


def make_line(index: int, sku: str, category: str, quantity: int, unit_price: Decimal,
              discount: Decimal) -> Line:
    return Line(index, sku, category, quantity, unit_price, discount,
                quantity * unit_price - discount)


class Order(NamedTuple):
    id: str
    placed_at: datetime
    channel: str | None
    currency: str | None
    shipping: Decimal
    tax: Decimal
    lines: tuple[Line, ...]


class Redeem(NamedTuple):
    points: int | None = None
    reward_id: str | None = None
    quantity: int = 1


class Request(NamedTuple):
    member: Mapping[str, Any]
    order: Order | None
    redeem: Redeem | None
    explain: bool
    as_of: datetime | None
    context: Mapping[str, Any] = {}

    @property
    def at(self) -> datetime:
        if self.order is not None:
            return self.order.placed_at
        assert self.as_of is not None
        return self.as_of


class _Reader:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def money(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None,
              ) -> Decimal:
        raw = data.get(key, default)
        if raw is None:
            self.fail(f"{path}.{key}", "is required")
            return Decimal(0)
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
            self.fail(f"{path}.{key}", f"expected a decimal string, got {type(raw).__name__}")
            return Decimal(0)
        try:
            value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
        except InvalidOperation:
            self.fail(f"{path}.{key}", f"not a decimal amount: {raw!r}")
            return Decimal(0)
        if not value.is_finite():
            self.fail(f"{path}.{key}", f"not a finite amount: {raw!r}")
            return Decimal(0)
        if value < 0:
            self.fail(f"{path}.{key}", f"must not be negative, got {raw}")
        if value >= MONEY_LIMIT:
            self.fail(f"{path}.{key}", f"is implausibly large: {raw}")
            return Decimal(0)
        return value

    def integer(self, data: Mapping[str, Any], key: str, path: str, minimum: int = 0,
                default: int | None = None) -> int:
        raw = data.get(key, default)
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.fail(f"{path}.{key}", "is required" if raw is None
                      else f"expected an integer, got {raw!r}")
            return minimum
        if raw < minimum:
            self.fail(f"{path}.{key}", f"must be at least {minimum}, got {raw}")
        if raw > 10**12:
            self.fail(f"{path}.{key}", f"is implausibly large: {raw}")
            return minimum
        return raw

    def text(self, data: Mapping[str, Any], key: str, path: str, required: bool = True,
             ) -> str | None:
        raw = data.get(key)
        if raw is None:
            if required:
                self.fail(f"{path}.{key}", "is required")
            return None
        if not isinstance(raw, str) or not raw or len(raw) > 200:
            self.fail(f"{path}.{key}", f"expected a non-empty string (≤ 200 chars), got {raw!r}")
            return None
        return raw

    def instant(self, data: Mapping[str, Any], key: str, path: str) -> datetime | None:
        raw = data.get(key)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(str(raw))
        except ValueError:
            self.fail(f"{path}.{key}", f"not an ISO 8601 date-time: {raw!r}")
            return None
        if value.tzinfo is None:
            self.fail(f"{path}.{key}", f"needs a UTC offset (e.g. 2026-11-17T14:30:00-05:00): {raw!r}")
            return None
        return value

    def mapping(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        raw = data.get(key)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.fail(f"{path}.{key}", f"expected an object, got {type(raw).__name__}")
            return {}
        return raw


def _fast_money(raw: Any) -> Decimal | None:
    """The common case (a plain decimal string or int) without the error bookkeeping."""
    kind = type(raw)
    if kind is str:
        try:
            value = Decimal(raw)
        except ArithmeticError:
            return None
    elif kind is int:
        value = Decimal(raw)
    else:
        return None
    if value.is_finite() and ZERO <= value < MONEY_LIMIT:
        return value
    return None


def _line(r: _Reader, raw: Any, i: int) -> Line | None:
    if type(raw) is dict:
        price_raw, discount_raw = raw.get("unit_price"), raw.get("discount", "0")
        if type(price_raw) is str and type(discount_raw) is str:  # the usual JSON shape
            try:
                price, discount = Decimal(price_raw), Decimal(discount_raw)
            except ArithmeticError:
                return _line_checked(r, raw, i)
        else:
            fast_price, fast_discount = _fast_money(price_raw), _fast_money(discount_raw)
            if fast_price is None or fast_discount is None:
                return _line_checked(r, raw, i)
            price, discount = fast_price, fast_discount
        qty, sku, cat = raw.get("quantity"), raw.get("sku"), raw.get("category")
        if (type(qty) is int and 1 <= qty <= 10**6 and type(sku) is str and type(cat) is str
                and 0 < len(sku) <= 200 and 0 < len(cat) <= 200
                and price.is_finite() and discount.is_finite()
                and ZERO <= price < MONEY_LIMIT and discount >= ZERO):
            gross = qty * price
            if discount <= gross:
                return Line(i, sku, cat, qty, price, discount, gross - discount)
    return _line_checked(r, raw, i)


def _line_checked(r: _Reader, raw: Any, i: int) -> Line | None:
    path = f"$.order.lines[{i}]"
    if not isinstance(raw, Mapping):
        r.fail(path, f"expected an object, got {type(raw).__name__}")
        return None
    line = make_line(index=i, sku=r.text(raw, "sku", path) or "",
                     category=r.text(raw, "category", path) or "",
                     quantity=r.integer(raw, "quantity", path, minimum=1),
                     unit_price=r.money(raw, "unit_price", path),
                     discount=r.money(raw, "discount", path, default="0"))
    if line.discount > line.quantity * line.unit_price:
        r.fail(f"{path}.discount", f"{line.discount} exceeds the line amount "
                                   f"{line.quantity * line.unit_price}")
    return line


def _order(r: _Reader, raw: Mapping[str, Any]) -> Order | None:
    path = "$.order"
    lines_raw = raw.get("lines")
    if not isinstance(lines_raw, list):
        r.fail(f"{path}.lines", "expected a list of lines")
        lines_raw = []
    elif len(lines_raw) > MAX_LINES:
        r.fail(f"{path}.lines", f"at most {MAX_LINES} lines per order, got {len(lines_raw)}")
        lines_raw = []
    lines = tuple(x for x in (_line(r, item, i) for i, item in enumerate(lines_raw)) if x)
    placed_at = r.instant(raw, "placed_at", path)
    if placed_at is None and "placed_at" not in raw:
        r.fail(f"{path}.placed_at", "is required (evaluation time comes from the request)")
    order_id = r.text(raw, "id", path)
    if placed_at is None or order_id is None:
        return None
    return Order(id=order_id, placed_at=placed_at, channel=r.text(raw, "channel", path, False),
                 currency=r.text(raw, "currency", path, False),
                 shipping=r.money(raw, "shipping", path, default="0"),
                 tax=r.money(raw, "tax", path, default="0"), lines=lines)


def _redeem(r: _Reader, raw: Any) -> Redeem | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or ("points" in raw) == ("reward_id" in raw):
        r.fail("$.redeem", "expected {\"points\": N} or {\"reward_id\": ID}")
        return None
    if "points" in raw:
        return Redeem(points=r.integer(raw, "points", "$.redeem", minimum=1))
    return Redeem(reward_id=r.text(raw, "reward_id", "$.redeem"),
                  quantity=r.integer(raw, "quantity", "$.redeem", minimum=1, default=1))


def parse(data: Any) -> Request:
    """Parse an evaluation request; raise RequestInvalid listing every problem."""
    r = _Reader()
    if not isinstance(data, Mapping):
        raise RequestInvalid([("$", f"expected a JSON object, got {type(data).__name__}")])
    member = r.mapping(data, "member", "$")
    if "member" not in data:
        r.fail("$.member", "is required")
    _check_member(r, member)
    order_raw = data.get("order")
    order = None
    if order_raw is not None:
        if isinstance(order_raw, Mapping):
            order = _order(r, order_raw)
        else:
            r.fail("$.order", f"expected an object, got {type(order_raw).__name__}")
    as_of = r.instant(data, "as_of", "$")
    if order_raw is None and as_of is None:
        r.fail("$.order", "an order or `as_of` is required (evaluation time comes from the request)")
    redeem = _redeem(r, data.get("redeem"))
    explain = data.get("explain", False)
    if not isinstance(explain, bool):
        r.fail("$.explain", f"expected true or false, got {explain!r}")
    context = r.mapping(data, "context", "$")
    if r.errors:
        raise RequestInvalid(r.errors)
    return Request(member=member, order=order, redeem=redeem, explain=bool(explain),
                   as_of=as_of, context=context)


def member_problems(member: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What `parse` would say about this `member` object (empty: nothing)."""
    r = _Reader()
    _check_member(r, member)
    return r.errors


def order_request(member: Mapping[str, Any], member_errors: list[tuple[str, str]],
                  order_raw: Mapping[str, Any], redeem_raw: Any = None) -> Request:
    """`parse({"member": member, "order": order_raw, "redeem": redeem_raw})` for a caller
    that checked the member once (`member_problems`) and evaluates many of its orders:
    the same Request, or the same RequestInvalid, without checking the member again."""
    r = _Reader()
    r.errors.extend(member_errors)
    order = _order(r, order_raw)
    redeem = _redeem(r, redeem_raw)
    if r.errors:
        raise RequestInvalid(r.errors)
    return Request(member=member, order=order, redeem=redeem, explain=False, as_of=None,
                   context={})


def _check_member(r: _Reader, member: Mapping[str, Any]) -> None:
    balance = member.get("points_balance", 0)
    if isinstance(balance, bool) or not isinstance(balance, int) or balance < 0:
        r.fail("$.member.points_balance", f"expected a non-negative integer, got {balance!r}")
    attrs = r.mapping(member, "attributes", "$.member")
    segments = attrs.get("segments", [])
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        r.fail("$.member.attributes.segments", "expected a list of strings")
    birthday = attrs.get("birthday")
    if birthday is not None:
        try:
            date.fromisoformat(str(birthday))
        except ValueError:
            r.fail("$.member.attributes.birthday", f"not a date (YYYY-MM-DD): {birthday!r}")
    state = r.mapping(member, "state", "$.member")
    for key in ("cap_usage", "challenge_spend"):
        for name in r.mapping(state, key, "$.member.state"):
            r.money(state[key], name, f"$.member.state.{key}")
