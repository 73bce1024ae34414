"""Evaluation request (docs/semantics.md) → typed values, with every problem located.

The values follow engine/evaluation/contract.py, the same rules the HTTP API's models and
schemas/evaluation-request.schema.json state. A bad value or an unknown key is reported
with its JSON path (`$.order.lines[2].unit_price: not a decimal amount …`,
`$.member.tierr: unknown field; did you mean 'tier'?`), never a traceback. `null` stands
for "not given" where a field has no default; `explain`, `shipping`, `tax`, a line's
`discount` and `redeem.quantity` take a value or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import engine.evaluation.contract as contract
from engine.errors import format_path

MAX_LINES = contract.MAX_LINES
ZERO = Decimal(0)
Path_ = tuple[str | int, ...]

_TOP = frozenset({"member", "order", "redeem", "explain", "as_of", "context",
                  "ruleset_version", "codes"})
_MEMBER = frozenset({"id", "tier", "points_balance", "attributes", "state"})
_ORDER = frozenset({"id", "placed_at", "channel", "currency", "shipping", "tax", "lines"})
_LINE = frozenset({"sku", "category", "quantity", "unit_price", "discount"})
_REDEEM = frozenset({"points", "reward_id", "quantity"})
_STATE_MONEY = ("cap_usage", "challenge_spend")
_STATE_COUNTS = ("campaign_usage", "campaign_budget_used", "reward_stock", "activity_counts")
_STATE = frozenset({"orders_count", "qualifying", "awarded_upgrades", "enrolments", "codes",
                    *_STATE_MONEY, *_STATE_COUNTS})
_QUALIFYING = frozenset({"spend", "orders"})
_STATE_MAPS = (*_STATE_MONEY, *_STATE_COUNTS)
_SPECIAL_ATTRIBUTES = {"segments": lambda v: contract.strings(v, least=0),
                       "birthday": contract.calendar_date,
                       "enrolled_at": contract.date_or_instant}


class RequestInvalid(ValueError):
    """The request is malformed; `.errors` holds (JSON path, message) pairs and `.code`
    says what kind of problem it is (`invalid_request`, `currency_mismatch`, …)."""

    def __init__(self, errors: list[tuple[str, str]], code: str = "invalid_request"):
        self.errors = sorted(errors)
        self.code = code
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
    codes: tuple[str, ...] = ()  # coupon codes presented, upper-case, each once

    @property
    def at(self) -> datetime:
        if self.order is not None:
            return self.order.placed_at
        assert self.as_of is not None
        return self.as_of


def discount_problem(quantity: int, unit_price: Decimal, discount: Decimal) -> str | None:
    """A line's discount may not exceed its amount (the one cross-field rule of a line)."""
    gross = quantity * unit_price
    return f"{discount} exceeds the line amount {gross}" if discount > gross else None


class _Reader:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, path: Path_, message: str) -> None:
        self.errors.append((format_path(path), message))

    def known(self, data: Mapping[str, Any], allowed: Collection[str], path: Path_) -> None:
        if type(data) is dict and type(allowed) is frozenset and data.keys() <= allowed:
            return  # every key known: nothing to report
        for name in data:
            if name not in allowed:
                if type(name) is str:
                    self.fail((*path, name), contract.unknown_field(name, allowed))
                else:
                    self.fail(path, f"keys must be strings, got {contract.kind(name)}")

    def value(self, data: Mapping[str, Any], name: str, path: Path_,
              check: Callable[[Any], Any], required: bool = False, default: Any = None,
              ) -> Any:
        """``check(data[name])``; absent (or null, where there is no default) → ``default``."""
        if name not in data:
            if required:
                self.fail((*path, name), "is required")
            return default
        raw = data[name]
        if raw is None:
            if required or default is not None:
                self.fail((*path, name), "must not be null" + (
                    "" if required else " (leave it out for the default)"))
            return default
        try:
            return check(raw)
        except ValueError as exc:
            self.fail((*path, name), str(exc))
            return default

    def mapping(self, data: Mapping[str, Any], name: str, path: Path_,
                required: bool = False) -> Mapping[str, Any] | None:
        raw = data.get(name)
        if raw is None:
            if required:
                self.fail((*path, name), "is required")
            return None
        if type(raw) is not dict and not isinstance(raw, Mapping):  # JSON gives dicts
            self.fail((*path, name), f"expected an object, got {contract.kind(raw)}")
            return None
        return raw


_AMOUNT, _BAD_TEXT = contract.amount_text, contract.BAD_CHARACTER_SEARCH
_NAME, _UNITS = contract.NAME_CHARS, contract.QUANTITY_LIMIT


def _line(r: _Reader, raw: Any, i: int) -> Line | None:
    if type(raw) is dict and raw.keys() <= _LINE:  # the usual JSON shape, checked quickly
        price, discount = raw.get("unit_price"), raw.get("discount", "0")
        qty, sku, cat = raw.get("quantity"), raw.get("sku"), raw.get("category")
        if (type(price) is str and type(discount) is str and type(qty) is int
                and type(sku) is str and type(cat) is str and 1 <= qty <= _UNITS
                and 0 < len(sku) <= _NAME and 0 < len(cat) <= _NAME
                and _BAD_TEXT(sku + cat) is None):
            unit_price, off = _AMOUNT(price), _AMOUNT(discount)
            if unit_price is not None and off is not None:
                gross = qty * unit_price
                if off <= gross:
                    return Line(i, sku, cat, qty, unit_price, off, gross - off)
    return _line_checked(r, raw, i)


def _line_checked(r: _Reader, raw: Any, i: int) -> Line | None:
    path: Path_ = ("order", "lines", i)
    if not isinstance(raw, Mapping):
        r.fail(path, f"expected an object, got {contract.kind(raw)}")
        return None
    r.known(raw, _LINE, path)
    quantity = r.value(raw, "quantity", path, _quantity, required=True)
    price = r.value(raw, "unit_price", path, contract.money, required=True)
    discount = r.value(raw, "discount", path, contract.money, default=ZERO)
    line = make_line(index=i, sku=r.value(raw, "sku", path, contract.text, True) or "",
                     category=r.value(raw, "category", path, contract.text, True) or "",
                     quantity=quantity or 1, unit_price=price or ZERO, discount=discount)
    if quantity and price is not None and discount:
        problem = discount_problem(quantity, price, discount)
        if problem:
            r.fail((*path, "discount"), problem)
    return line


def _quantity(raw: Any) -> int:
    return contract.whole(raw, 1, contract.QUANTITY_LIMIT)


def _order(r: _Reader, raw: Mapping[str, Any]) -> Order | None:
    path: Path_ = ("order",)
    r.known(raw, _ORDER, path)
    lines_raw = raw.get("lines")
    if not isinstance(lines_raw, list):
        r.fail((*path, "lines"), "is required" if lines_raw is None else
               f"expected a list of lines, got {contract.kind(lines_raw)}")
        lines_raw = []
    elif len(lines_raw) > MAX_LINES:
        r.fail((*path, "lines"), f"at most {MAX_LINES} lines per order, got {len(lines_raw)}")
        lines_raw = []
    lines = tuple([x for i, item in enumerate(lines_raw) if (x := _line(r, item, i))])
    placed_at = r.value(raw, "placed_at", path, contract.instant, required=True)
    order_id = r.value(raw, "id", path, contract.identifier, required=True)
    channel = r.value(raw, "channel", path, contract.text)
    currency = r.value(raw, "currency", path, contract.currency)
    shipping = r.value(raw, "shipping", path, contract.money, default=ZERO)
    tax = r.value(raw, "tax", path, contract.money, default=ZERO)
    if placed_at is None or order_id is None:
        return None
    return Order(id=order_id, placed_at=placed_at, channel=channel, currency=currency,
                 shipping=shipping, tax=tax, lines=lines)


def _redeem(r: _Reader, raw: Any) -> Redeem | None:
    path: Path_ = ("redeem",)
    if raw is None:
        return None
    if type(raw) is not dict and not isinstance(raw, Mapping):
        r.fail(path, f"expected an object, got {contract.kind(raw)}")
        return None
    r.known(raw, _REDEEM, path)
    by_points, by_reward = raw.get("points") is not None, raw.get("reward_id") is not None
    if by_points == by_reward:
        r.fail(path, 'expected {"points": N} or {"reward_id": ID, "quantity": N}')
        return None
    if by_points:
        if "quantity" in raw:
            r.fail((*path, "quantity"), "goes with reward_id, not with points")
        return Redeem(points=r.value(raw, "points", path,
                                     lambda v: contract.whole(v, 1, contract.POINTS_LIMIT)))
    return Redeem(reward_id=r.value(raw, "reward_id", path, contract.text),
                  quantity=r.value(raw, "quantity", path, lambda v: contract.whole(
                      v, 1, contract.REDEEM_QUANTITY_LIMIT), default=1))


def parse(data: Any) -> Request:
    """Parse an evaluation request; raise RequestInvalid listing every problem."""
    r = _Reader()
    if type(data) is not dict and not isinstance(data, Mapping):
        raise RequestInvalid([("$", f"expected a JSON object, got {contract.kind(data)}")])
    r.known(data, _TOP, ())
    member_raw = r.mapping(data, "member", (), required=True)
    member = _check_member(r, member_raw) if member_raw is not None else {}
    order_raw = r.mapping(data, "order", ())
    order = _order(r, order_raw) if order_raw is not None else None
    as_of = r.value(data, "as_of", (), contract.instant)
    if data.get("order") is None and data.get("as_of") is None:
        r.fail(("order",), "an order or `as_of` is required (evaluation time comes from the "
                           "request)")
    redeem = _redeem(r, data.get("redeem"))
    explain = r.value(data, "explain", (), contract.flag, default=False)
    r.value(data, "ruleset_version", (), lambda v: contract.whole(v, 1, contract.VERSION_LIMIT))
    context = _context(r, data)
    codes = r.value(data, "codes", (), contract.codes, default=())
    if r.errors:
        raise RequestInvalid(r.errors)
    return Request(member=member, order=order, redeem=redeem, explain=bool(explain),
                   as_of=as_of, context=context, codes=tuple(codes or ()))


def _context(r: _Reader, data: Mapping[str, Any]) -> Mapping[str, Any]:
    context = r.mapping(data, "context", ())
    if not context:
        return {}
    if len(context) > contract.MAX_CONTEXT:
        r.fail(("context",), f"at most {contract.MAX_CONTEXT} entries, got {len(context)}")
        return {}
    _free_map(r, context, ("context",), lists=False)
    return context


def _free_map(r: _Reader, data: Mapping[str, Any], path: Path_, lists: bool) -> None:
    for name, value in data.items():
        if not contract.is_text(name, contract.KEY_CHARS):
            try:
                contract.key(name)
            except ValueError as exc:
                r.fail(path, f"name {name!r}: {exc}" if type(name) is str else str(exc))
                continue
        special = _SPECIAL_ATTRIBUTES.get(name) if lists else None
        try:
            if special is None:
                contract.free_value(value, lists)
            elif value is not None:
                special(value)
        except ValueError as exc:
            r.fail((*path, name), str(exc))


def member_problems(member: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What `parse` would say about this `member` object (empty: nothing)."""
    r = _Reader()
    _check_member(r, member)
    return r.errors


def order_parts(order_raw: Any, redeem_raw: Any = None) -> tuple[Order, Redeem | None]:
    """An order (and redeem) object checked as `parse` checks a request's (an event
    history's orders); raises RequestInvalid."""
    r = _Reader()
    order = None
    if isinstance(order_raw, Mapping):
        order = _order(r, order_raw)
    else:
        r.fail(("order",), f"expected an object, got {contract.kind(order_raw)}")
    redeem = _redeem(r, redeem_raw)
    if r.errors or order is None:
        raise RequestInvalid(r.errors)
    return order, redeem


def order_request(member: Mapping[str, Any], member_errors: list[tuple[str, str]],
                  parts: tuple[Order, Redeem | None]) -> Request:
    """The Request of a member checked once (`member_problems`) and one of its orders
    (`order_parts`): what `parse` gives for {"member", "order", "redeem"}, or raises."""
    if member_errors:
        raise RequestInvalid(member_errors)
    order, redeem = parts
    return Request(member=member, order=order, redeem=redeem, explain=False, as_of=None,
                   context={})


def _check_member(r: _Reader, member: Mapping[str, Any]) -> Mapping[str, Any]:
    """Check the member object; return it without the keys whose value is null."""
    path: Path_ = ("member",)
    r.known(member, _MEMBER, path)
    tier, balance = member.get("tier"), member.get("points_balance")
    if not (contract.is_text(member.get("id"), contract.ID_CHARS)  # the usual: all fine
            and (tier is None or contract.is_text(tier))
            and (balance is None or (type(balance) is int
                 and 0 <= balance <= contract.POINTS_LIMIT))):
        r.value(member, "id", path, contract.identifier, required=True)
        r.value(member, "tier", path, contract.text)
        r.value(member, "points_balance", path,
                lambda v: contract.whole(v, 0, contract.POINTS_LIMIT))
    attributes = r.mapping(member, "attributes", path)
    if attributes:
        if len(attributes) > contract.MAX_ATTRIBUTES:
            r.fail((*path, "attributes"), f"at most {contract.MAX_ATTRIBUTES} attributes, got "
                                          f"{len(attributes)}")
        else:
            _free_map(r, attributes, (*path, "attributes"), lists=True)
    state = r.mapping(member, "state", path)
    if state is not None:
        member = {**member, "state": _check_state(r, state, (*path, "state"))}
    if None in member.values():
        member = {k: v for k, v in member.items() if v is not None}
    return member


def _check_state(r: _Reader, state: Mapping[str, Any], path: Path_) -> dict[str, Any]:
    """Check member.state; return it as checked (integers as int, amounts as Decimal,
    null entries left out)."""
    r.known(state, _STATE, path)
    checked: dict[str, Any] = {}
    if "orders_count" in state:
        checked["orders_count"] = r.value(state, "orders_count", path, _count)
    for name, check in (("awarded_upgrades", contract.strings),
                        ("enrolments", contract.strings), ("codes", contract.code_map)):
        if name in state:
            checked[name] = r.value(state, name, path, check)
    qualifying = r.mapping(state, "qualifying", path)
    if qualifying is not None:
        where = (*path, "qualifying")
        r.known(qualifying, _QUALIFYING, where)
        checked["qualifying"] = {key: value for key, value in (
            ("spend", r.value(qualifying, "spend", where, contract.money)),
            ("orders", r.value(qualifying, "orders", where, _count))) if value is not None}
    for name in _STATE_MAPS:
        if name in state:
            _check_counters(r, state, name, path, checked)
    return {key: value for key, value in checked.items() if value is not None}


def _check_counters(r: _Reader, state: Mapping[str, Any], name: str, path: Path_,
                    checked: dict[str, Any]) -> None:
    """One map of member.state (amounts or counts by id), checked into `checked`."""
    entries = r.mapping(state, name, path)
    if entries is None:
        return
    if len(entries) > contract.MAX_COUNTERS:
        r.fail((*path, name), f"at most {contract.MAX_COUNTERS} entries, got {len(entries)}")
        return
    check = contract.money if name in _STATE_MONEY else _count
    checked[name] = {}
    for entry in entries:
        try:
            contract.key(entry)
        except ValueError as exc:
            r.fail((*path, name), f"key {entry!r}: {exc}")
            continue
        checked[name][entry] = r.value(entries, entry, (*path, name), check, required=True)


def _count(value: Any) -> int:
    return contract.whole(value, 0, contract.POINTS_LIMIT)
