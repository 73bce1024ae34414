"""Streaming reader for event histories: JSON Lines (all event types) and CSV (orders).

The reader never holds more than one event (one order, for CSV) in memory. Each line is
checked against the rules of `schemas/event.schema.json` by hand — the JSON Schema
validator costs ~100 µs a line, too much for a million events; tests keep the two in
step. An order (with its redeem) and enrolment attributes are checked by the engine's
request parser, values by engine/evaluation/contract.py, so an event's order obeys exactly the rules
of an evaluation request; the parsed order travels with the event. A bad line becomes an `EventError` carrying its line number instead of stopping
the stream, so the caller decides whether to skip it or fail.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import orjson

import engine.evaluation.contract as contract
from engine.calendar import moved
from engine.evaluation.request import Order, RequestInvalid, member_problems, order_parts

EVENT_TYPES = ("enroll", "order", "refund", "activity", "redemption", "cancel",
               "auto_redemption", "campaign_join", "campaign_leave", "adjust", "status")
STATUSES = ("active", "suspended", "closed")
PERIODS = frozenset({"day", "week", "month", "quarter", "year", "lifetime"})
ACTIVITIES = frozenset({"account_creation", "first_purchase", "product_review", "referral",
                        "social_share", "birthday"})
_ALLOWED = {
    "enroll": {"type", "member_id", "at", "tier", "attributes", "referred_by"},
    "order": {"type", "member_id", "at", "order", "redeem", "codes"},
    "refund": {"type", "member_id", "at", "order_id", "amount"},
    "activity": {"type", "member_id", "at", "activity", "friend_id"},
    "redemption": {"type", "member_id", "at", "id", "points", "reward_id", "quantity",
                   "order_id", "order_total"},
    "cancel": {"type", "member_id", "at", "redemption_id"},
    "auto_redemption": {"type", "member_id", "at", "threshold", "unit", "method", "frequency",
                        "enabled"},
    "campaign_join": {"type", "member_id", "at", "campaign"},
    "campaign_leave": {"type", "member_id", "at", "campaign"},
    "adjust": {"type", "member_id", "at", "points", "reason"},
    "status": {"type", "member_id", "at", "status", "reason"},
}
_MEMBER_RE = re.compile(r'"member_id"\s*:\s*"([^"\\]*)"')
CSV_COLUMNS = ("member_id", "order_id", "placed_at", "category", "quantity", "unit_price")


@dataclass(slots=True)
class Event:
    line: int
    type: str
    member_id: str
    at: datetime
    data: dict[str, Any]
    parts: Any = None  # an order event's (Order, Redeem | None), parsed once by check_event

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, line: int, type: str, member_id: str, at: datetime,
                 data: dict[str, Any], parts: Any = None) -> None:
        self.line = line
        self.type = type
        self.member_id = member_id
        self.at = at
        self.data = data
        self.parts = parts


@dataclass(slots=True)
class EventError:
    line: int
    message: str
    member_id: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class InvalidEvent(ValueError):
    pass


# One tzinfo object per UTC offset for every instant read: `fromisoformat` makes a new
# offset object (and its timedelta, 72 bytes together) for each instant it parses, and the
# simulator keeps an event's instant as long as the lots and order records it opened live.
_ZONES: dict[tzinfo, tzinfo] = {}  # keyed by itself: fixed offsets are equal by offset


def shared_zone(at: datetime) -> datetime:
    """`at` unchanged (the same instant, offset and text), with the reader's one tzinfo
    object for its offset."""
    zone = at.tzinfo
    if type(zone) is not timezone:
        return at
    shared = _ZONES.setdefault(zone, zone)
    if shared is zone:
        return at
    return moved(at, at.year, at.month, at.day, shared)  # at.replace(tzinfo=shared)


def parse_instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidEvent("`at` must be an ISO 8601 string")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"`at` is not an ISO 8601 instant: {value!r}") from None
    if at.tzinfo is None:
        raise InvalidEvent(f"`at` needs a UTC offset: {value!r}")
    return shared_zone(at)


def money(value: Any, what: str) -> Decimal:
    try:
        return contract.money(value)
    except contract.Invalid as exc:
        raise InvalidEvent(f"{what}: {exc}") from None


def _positive_int(value: Any, what: str, most: int = contract.POINTS_LIMIT) -> int:
    try:
        return contract.whole(value, 1, most)
    except contract.Invalid as exc:
        raise InvalidEvent(f"{what}: {exc}") from None


def _string(data: dict[str, Any], key: str, required: bool = True,
            check: Callable[[Any], str] = contract.text) -> None:
    value = data.get(key)
    if value is None and not required:
        return
    try:
        check(value)
    except contract.Invalid as exc:
        raise InvalidEvent(f"`{key}`: {exc}") from None


def _check_order(data: dict[str, Any], at: datetime) -> Any:
    """The order event's order and redeem, checked by the engine's request parser (the
    rules of an evaluation request); returns what it parsed, for the replay."""
    order = data.get("order")
    if not isinstance(order, dict):
        raise InvalidEvent("`order` must be an object")
    if isinstance(order.get("lines"), list) and not order["lines"]:
        raise InvalidEvent("`order.lines` must be a non-empty list")
    if "placed_at" not in order:
        order["placed_at"] = at.isoformat()
    try:
        parsed, redeem = order_parts(order, data.get("redeem"))
    except RequestInvalid as exc:
        raise InvalidEvent(str(exc)) from None
    placed = parsed.placed_at
    # An order placed at its event's instant (as generated histories have it) keeps that
    # one object: lots, order records and qualification entries all hold it. The same
    # text is the same instant and offset; else compare (two offsets: about 4 µs).
    same = order["placed_at"] == data["at"] or (
        placed == at and placed.utcoffset() == at.utcoffset())
    # built, not `_replace`d: a named tuple's `_replace` runs as Python (7 µs here)
    return Order(parsed.id, at if same else shared_zone(placed), parsed.channel,
                 parsed.currency, parsed.shipping, parsed.tax, parsed.lines), redeem


def check_event(data: Any, line: int) -> Event:
    """Validate one decoded event (the rules of event.schema.json); raise InvalidEvent."""
    if not isinstance(data, dict):
        raise InvalidEvent("an event must be a JSON object")
    kind = data.get("type")
    if kind not in _ALLOWED:
        raise InvalidEvent(f"unknown event type {kind!r} (expected one of {', '.join(EVENT_TYPES)})")
    _string(data, "member_id", check=contract.identifier)
    at = parse_instant(data.get("at"))
    extra = data.keys() - _ALLOWED[kind]
    if extra:
        raise InvalidEvent(f"unknown field(s) for a {kind} event: {', '.join(sorted(extra))}")
    parts = None
    if kind == "order":
        parts = _check_order(data, at)
        if "codes" in data:
            try:
                data["codes"] = contract.codes(data["codes"])
            except contract.Invalid as exc:
                raise InvalidEvent(f"`codes`: {exc}") from None
    elif kind in ("campaign_join", "campaign_leave"):
        _string(data, "campaign", check=contract.identifier)
    elif kind == "refund":
        _string(data, "order_id", check=contract.identifier)
        if "amount" in data and money(data["amount"], "amount") <= 0:
            raise InvalidEvent("amount: must be more than 0 (omit it to refund the whole order)")
    elif kind == "activity":
        if data.get("activity") not in ACTIVITIES:
            raise InvalidEvent(f"unknown activity {data.get('activity')!r}")
        _string(data, "friend_id", required=False, check=contract.identifier)
    elif kind == "redemption":
        _check_redemption(data)
    elif kind == "cancel":
        _string(data, "redemption_id", check=contract.identifier)
    elif kind == "auto_redemption":
        _check_auto_redemption(data)
    elif kind == "enroll":
        _check_enroll(data)
    elif kind in ("adjust", "status"):
        _check_admin(kind, data)
    return Event(line, kind, data["member_id"], at, data, parts)


def _check_redemption(data: dict[str, Any]) -> None:
    if ("points" in data) == ("reward_id" in data):
        raise InvalidEvent("a redemption names exactly one of `points` and `reward_id`")
    if "points" in data:
        _positive_int(data["points"], "points")
    else:
        _string(data, "reward_id")
    if "quantity" in data:
        _positive_int(data["quantity"], "quantity", contract.REDEEM_QUANTITY_LIMIT)
    if "order_total" in data:
        money(data["order_total"], "order_total")
    for key in ("id", "order_id"):
        _string(data, key, required=False, check=contract.identifier)


def _check_auto_redemption(data: dict[str, Any]) -> None:
    for key in ("threshold", "unit"):
        if key in data:
            _positive_int(data[key], key)
    _string(data, "method", required=False)
    if "enabled" in data and not isinstance(data["enabled"], bool):
        raise InvalidEvent("`enabled` must be true or false")
    frequency = data.get("frequency")
    if frequency is not None and (
            not isinstance(frequency, dict) or frequency.keys() != {"count", "per"}
            or isinstance(frequency["count"], bool) or not isinstance(frequency["count"], int)
            or frequency["count"] < 1 or frequency["per"] not in PERIODS):
        raise InvalidEvent("`frequency` must be {\"count\": N ≥ 1, \"per\": one of "
                           f"{', '.join(sorted(PERIODS))}}}")


def _check_admin(kind: str, data: dict[str, Any]) -> None:
    if kind == "adjust":
        points = data.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or points == 0 \
                or abs(points) > contract.POINTS_LIMIT:
            raise InvalidEvent("points: a whole number of points, not 0, at most "
                               f"{contract.POINTS_LIMIT} either way")
    elif data.get("status") not in STATUSES:
        raise InvalidEvent(f"status: one of {', '.join(STATUSES)}")
    _string(data, "reason", required=False)


def _check_enroll(data: dict[str, Any]) -> None:
    attrs = data.get("attributes")
    if attrs is not None and not isinstance(attrs, dict):
        raise InvalidEvent("`attributes` must be an object")
    _string(data, "tier", required=False)
    _string(data, "referred_by", required=False, check=contract.identifier)
    problems = member_problems({"id": data["member_id"], "attributes": attrs})
    if problems:
        raise InvalidEvent("; ".join(f"{path}: {message}" for path, message in problems))


def quick_member_id(text: str) -> str | None:
    """The member id of a JSON line without decoding it (for partitioning); None if unclear."""
    match = _MEMBER_RE.search(text)
    return match.group(1) if match else None


def read_jsonl(stream: TextIO, keep: Callable[[str | None], bool] | None = None,
               first: int = 1) -> Iterator[Event | EventError]:
    """Events of a JSON Lines stream, in file order. `keep(member_id)` skips other lines
    before they are decoded (a worker reading only its own members). `first`: the number
    of the stream's first line (a shard's lines continue the shards before it)."""
    for number, text in enumerate(stream, start=first):
        if not text.strip():
            continue
        if keep is not None:
            quick = quick_member_id(text)
            if quick is not None and not keep(quick):
                continue
        item = decode_line(number, text, keep)
        if item is not None:
            yield item


def _has_float(value: Any) -> bool:
    if type(value) is float:
        return True
    if type(value) is dict:
        return any(_has_float(v) for v in value.values())
    if type(value) is list:
        return any(_has_float(v) for v in value)
    return False


def _loads(text: str | bytes) -> Any:
    """`json.loads`, faster: orjson decodes a well-formed line in a third of the time (the
    JSON decoder was a quarter of reading an event). What orjson refuses — malformed JSON,
    but also what `json` accepts and it does not: NaN, infinite numbers, lone surrogates —
    goes to `json`, whose value or error stands; so does a line with any float in it,
    since orjson reads an integer beyond 64 bits as a float (histories write amounts as
    strings: a float is rare)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if _has_float(data) else data


def decode_line(number: int, text: str | bytes, keep: Callable[[str | None], bool] | None,
                ) -> Event | EventError | None:
    """One JSON event text decoded and checked: the event, its error, or None when
    `keep` says it is another reader's."""
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        if keep is None or keep(None):
            return EventError(number, f"not valid JSON: {exc.msg} (column {exc.colno})")
        return None
    except (ValueError, RecursionError) as other:
        if keep is None or keep(None):
            return EventError(number, f"not valid JSON: {other}")
        return None
    member = data.get("member_id") if isinstance(data, dict) else None
    member = member if isinstance(member, str) and member else None
    if keep is not None and not keep(member):
        return None
    try:
        return check_event(data, number)
    except InvalidEvent as invalid:
        return EventError(number, str(invalid), member)


def _csv_line(row: dict[str, str]) -> dict[str, Any]:
    line: dict[str, Any] = {"sku": row.get("sku") or "-", "category": row.get("category", ""),
                            "unit_price": row.get("unit_price", "")}
    try:
        line["quantity"] = int(row.get("quantity") or "1")
    except ValueError:
        raise InvalidEvent(f"quantity is not an integer: {row.get('quantity')!r}") from None
    for key in ("discount",):
        if row.get(key):
            line[key] = row[key]
    return line


def read_csv(stream: TextIO, keep: Callable[[str | None], bool] | None = None,
             first: int = 1) -> Iterator[Event | EventError]:
    """Order events from a flat CSV (one row per order line; adjacent rows with the same
    order_id form one order). Line numbers are those of the order's first row (the
    header is line `first`)."""
    reader = csv.DictReader(stream)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        yield EventError(first, f"CSV header lacks column(s): {', '.join(missing)}")
        return
    pending: dict[str, Any] | None = None
    first_line = 0
    for row in reader:
        number = reader.line_num + first - 1
        if pending is not None and row.get("order_id") == pending["order"]["id"] \
                and row.get("member_id") == pending["member_id"]:
            try:
                pending["order"]["lines"].append(_csv_line(row))
            except InvalidEvent as exc:
                pending["error"] = str(exc)
            continue
        if pending is not None:
            yield _finish_csv(pending, first_line, keep)
        first_line = number
        pending = {"type": "order", "member_id": row.get("member_id") or "",
                   "at": row.get("placed_at") or "",
                   "order": {"id": row.get("order_id") or "", "lines": []}}
        for key in ("channel", "shipping"):
            if row.get(key):
                pending["order"][key] = row[key]
        try:
            pending["order"]["lines"].append(_csv_line(row))
        except InvalidEvent as exc:
            pending["error"] = str(exc)
    if pending is not None:
        yield _finish_csv(pending, first_line, keep)


def _finish_csv(data: dict[str, Any], line: int, keep: Callable[[str | None], bool] | None,
                ) -> Event | EventError:
    if keep is not None and not keep(data["member_id"] or None):
        return EventError(line, "", None)  # not this reader's member; filtered by caller
    if "error" in data:
        return EventError(line, data["error"], data["member_id"] or None)
    try:
        return check_event(data, line)
    except InvalidEvent as exc:
        return EventError(line, str(exc), data["member_id"] or None)


def read_events(path: str | Path, keep: Callable[[str | None], bool] | None = None,
                ) -> Iterator[Event | EventError]:
    """Events of a history file (`.csv` → CSV orders, anything else → JSON Lines)."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="" if path.suffix == ".csv" else None) as stream:
        if path.suffix.lower() == ".csv":
            for item in read_csv(stream, keep):
                if isinstance(item, EventError) and not item.message:
                    continue
                yield item
        else:
            yield from read_jsonl(stream, keep)
