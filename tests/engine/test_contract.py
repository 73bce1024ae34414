"""One contract per input: the JSON Schema, the API's models and the engine's parser agree.

Hypothesis generates evaluation requests — valid ones, and valid ones mutated (unknown
keys, negative and over-precise amounts, wrong types, lone surrogates and control
characters, big integers, nulls, missing fields, odd dates and instants) — and feeds the
same document to the three (as JSON text read back with `json.loads`, as the CLI and the
API read it), expecting the same accept/reject. The one rule a schema cannot state (a
line's discount is at most its amount) is left out of the schema's verdict explicitly.
The event-history and test-suite formats, which carry the request's orders, members and
redemptions, are held to the engine's verdict the same way.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.schemas import EvaluationIn, RefundIn
from engine.evaluation import contract
from engine.evaluation.request import RequestInvalid, parse
from engine.simulation.history import InvalidEvent, check_event
from schemas import load_schema, problems

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

# ---------------------------------------------------------------- valid documents

_chars = st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_categories=("Cs", "Cc"))
names = st.one_of(st.sampled_from(["gold", "web", "TV-55", "électronique", "a b", "x"]),
                  st.text(_chars, min_size=1, max_size=12))
keys = st.one_of(st.sampled_from(["vip_level", "source", "score", "a-b"]),
                 st.text(_chars, min_size=1, max_size=10))


@st.composite
def amounts(draw: Any, limit: int = contract.MONEY_LIMIT, signed: bool = False) -> Any:
    places = draw(st.integers(0, contract.MONEY_PLACES))
    units = draw(st.integers(-(limit * 10**places - 1) if signed else 0,
                             limit * 10**places - 1))
    value = Decimal(units).scaleb(-places)
    form = draw(st.sampled_from(["str", "float", "int"]))
    if form == "int" and value == value.to_integral_value():
        return int(value)
    if form == "float" or signed:
        return float(value)  # at most 15 significant digits: exact as a double
    return f"{value:.{places}f}" if value >= 0 else float(value)


instants = st.builds(
    lambda y, mo, d, h, mi, s, frac, off: (
        f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}" + (f":{s:02d}" if s is not None else "")
        + (frac if s is not None else "") + off),
    st.integers(1900, 2999), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
    st.integers(0, 59), st.one_of(st.none(), st.integers(0, 59)),
    st.sampled_from(["", ".5", ".123456"]), st.sampled_from(["Z", "-05:00", "+09:30", "+00:00"]))
dates = st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", st.integers(1900, 2999),
                  st.integers(1, 12), st.integers(1, 28))
codes = st.one_of(st.sampled_from(["K7QF-2MZP-9XWA", "abc", "R-XXXXXXXX", "a" * 64]),
                  st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{2,63}", fullmatch=True))
free_values = st.one_of(st.none(), st.booleans(), st.text(_chars, max_size=20),
                        st.integers(-10**10, 10**10), amounts(limit=10**10, signed=True))


def _maybe(draw: Any, out: dict[str, Any], key: str, strategy: Any) -> None:
    if draw(st.booleans()):
        out[key] = draw(strategy)


@st.composite
def lines(draw: Any) -> dict[str, Any]:
    line = {"sku": draw(names), "category": draw(names),
            "quantity": draw(st.one_of(st.integers(1, 5), st.integers(1, contract.QUANTITY_LIMIT))),
            "unit_price": draw(amounts())}
    if draw(st.booleans()):
        line["discount"] = draw(st.sampled_from(["0", "0.00", 0, "1.5"]))
        if Decimal(str(line["discount"])) > line["quantity"] * Decimal(str(line["unit_price"])):
            line["discount"] = "0"
    return line


@st.composite
def members(draw: Any) -> dict[str, Any]:
    member: dict[str, Any] = {"id": draw(names)}
    _maybe(draw, member, "tier", names)
    _maybe(draw, member, "points_balance", st.integers(0, contract.POINTS_LIMIT))
    if draw(st.booleans()):
        attributes: dict[str, Any] = draw(st.dictionaries(keys, free_values, max_size=3))
        _maybe(draw, attributes, "segments", st.lists(names, max_size=3))
        _maybe(draw, attributes, "birthday", dates)
        _maybe(draw, attributes, "enrolled_at", st.one_of(dates, instants))
        member["attributes"] = attributes
    if draw(st.booleans()):
        member["state"] = {"orders_count": draw(st.integers(0, 100)),
                           "qualifying": {"spend": draw(amounts()), "orders": 3},
                           "cap_usage": {"seasonal.q4": draw(amounts())},
                           "campaign_usage": {"weekend": 1}, "awarded_upgrades": ["gold"]}
        _maybe(draw, member["state"], "enrolments", st.lists(names, max_size=3))
        _maybe(draw, member["state"], "codes", st.dictionaries(codes, names, max_size=3))
    return member


@st.composite
def orders(draw: Any) -> dict[str, Any]:
    order: dict[str, Any] = {"id": draw(names), "placed_at": draw(instants),
                             "lines": draw(st.lists(lines(), max_size=3))}
    _maybe(draw, order, "channel", names)
    _maybe(draw, order, "currency", st.sampled_from(["USD", "EUR"]))
    _maybe(draw, order, "shipping", amounts())
    _maybe(draw, order, "tax", amounts())
    return order


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"member": draw(members())}
    if draw(st.integers(0, 3)):
        doc["order"] = draw(orders())
    if "order" not in doc or draw(st.booleans()):
        doc["as_of"] = draw(instants)
    _maybe(draw, doc, "redeem", st.one_of(
        st.builds(lambda p: {"points": p}, st.integers(1, 10**6)),
        st.builds(lambda r, q: {"reward_id": r, **q}, names,
                  st.sampled_from([{}, {"quantity": 2}]))))
    _maybe(draw, doc, "explain", st.booleans())
    _maybe(draw, doc, "context", st.dictionaries(keys, free_values, max_size=3))
    _maybe(draw, doc, "ruleset_version", st.integers(1, 5))
    _maybe(draw, doc, "codes", st.lists(codes, max_size=4, unique_by=str.upper))
    return doc


# ---------------------------------------------------------------- mutations

EDGE_VALUES = [
    -1, -0.5, 0, "-1.00", "1.00001", 1.00001, 0.00001, 1e-5, "1e2", " 1", "+1", "1.",
    ".5", "1_000", "\u0661\u0662", "0x10", "NaN", "Infinity", 10**20, 2**63, -(10**12),
    10**12, 10**12 + 1, 10**11, 99_999_999_999.9999, 1e11, 999_999_999.9999,
    "999999999.9999", "1000000000", 1_000_000_000, 2.0, 1.5, 1.25, True, False, None, "",
    "x" * 101, "x" * 129, "x" * 201, "a\udfff", "\ud800x", "a\x00", "a\nb", "\t", [], {},
    ["a"], [1], ["a\udfff"], ["x" * 201], {"a": 1}, "2026-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z", "2026-11-17T14:30:00", "1899-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z", "2026-11-17 14:30:00Z", "2026-11-17T24:00:00Z",
    "2026-11-17T14:30:60Z", "2026-11-17T14:30:00.1234567Z", "2026-11-17t14:30:00z",
    1_700_000_000, "2024-02-29", "2023-02-29", "20240315", "1900-01-01", "USD", "usd", "US",
    "2026-11-17T14:30:00+24:00", "ab", "-abc", "a" * 65, "AB CD", "ÄBC", ["ab"], ["x y"],
    ["A-1", "a-1"], ["A-1", "A-1"],
]
NEAR_MISSES = ["tierr", "redeeem", "discont", "pointz", "attributes", "unknown", "id", "as_of"]


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``doc`` that holds a value (the root excluded)."""
    found = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) \
        if isinstance(doc, list) else ()
    for step, value in items:
        found.append((*path, step))
        found.extend(_paths(value, (*path, step)))
    return found


def _containers(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if isinstance(doc, dict) else []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) \
        if isinstance(doc, list) else ()
    for step, value in items:
        found.extend(_containers(value, (*path, step)))
    return found


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def mutated(draw: Any, base: Any = None) -> dict[str, Any]:
    doc = json.loads(json.dumps(draw(base if base is not None else requests())))
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["replace", "replace", "replace", "extra", "drop",
                                     "rename"]))
        paths = sorted(_paths(doc), key=len, reverse=True)  # leaves first: they are many
        if kind == "extra" or not paths:
            where = _at(doc, draw(st.sampled_from(_containers(doc))))
            where[draw(st.one_of(st.sampled_from(NEAR_MISSES), keys))] = copy.deepcopy(draw(
                st.sampled_from(EDGE_VALUES)))
            continue
        path = draw(st.sampled_from(paths))
        parent = _at(doc, path[:-1])
        if kind == "replace":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(EDGE_VALUES)))
        elif kind == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):  # rename a key: surrogate, control, long, empty
            parent[draw(st.sampled_from(["k\udfff", "k\x01", "k" * 101, "", "tierr"]))] = \
                parent.pop(path[-1])
    return doc


# ---------------------------------------------------------------- the three verdicts

def _schema_says(name: str, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:120]}"
            for e in problems(name, doc)]


def _api_says(doc: Any) -> list[str]:
    try:
        EvaluationIn.model_validate(doc)
    except ValidationError as exc:
        return [f"{'/'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return []


def _engine_says(doc: Any) -> list[str]:
    try:
        parse(doc)
    except RequestInvalid as exc:
        return [f"{p}: {m}" for p, m in exc.errors]
    return []


def _discount_beyond_line(doc: Any) -> bool:
    """The rule no schema can state: is some line's discount above its amount?"""
    order = doc.get("order") if isinstance(doc, dict) else None
    for line in order.get("lines", []) if isinstance(order, dict) and isinstance(
            order.get("lines"), list) else []:
        try:
            quantity = contract.whole(line["quantity"], 1, contract.QUANTITY_LIMIT)
            price, discount = contract.money(line["unit_price"]), contract.money(line["discount"])
        except (KeyError, TypeError, ValueError):
            continue
        if discount > quantity * price:
            return True
    return False


def _agree(doc: Any) -> None:
    doc = json.loads(json.dumps(doc))  # what a client sends, read as the CLI and API read it
    schema, api, engine = _schema_says("evaluation-request", doc), _api_says(doc), \
        _engine_says(doc)
    schema_ok = not schema and not _discount_beyond_line(doc)
    verdicts = {"schema": schema_ok, "api": not api, "engine": not engine}
    assert len(set(verdicts.values())) == 1, (verdicts, schema, api, engine, doc)


@SETTINGS
@given(doc=requests())
def test_valid_requests_pass_all_three(doc: dict[str, Any]) -> None:
    assert _schema_says("evaluation-request", json.loads(json.dumps(doc))) == []
    _agree(doc)


@SETTINGS
@given(doc=mutated())
def test_mutated_requests_get_the_same_verdict_from_all_three(doc: dict[str, Any]) -> None:
    _agree(doc)


@pytest.mark.parametrize("doc", [
    {"member": {"id": "M", "tierr": "gold"}, "as_of": "2026-01-01T00:00:00Z"},
    {"member": {"id": "M"}, "as_of": "2026-01-01T00:00:00Z", "redeeem": {"points": 5}},
    {"member": {"id": "M"}, "as_of": "2026-01-01T00:00:00Z", "context": {"n": 1.00001}},
    {"member": {"id": "M", "attributes": {"x": "a\udfff"}}, "as_of": "2026-01-01T00:00:00Z"},
    {"member": {"id": "M", "attributes": {"k\udfff": 1}}, "as_of": "2026-01-01T00:00:00Z"},
    {"member": {"id": "M", "points_balance": 10**13}, "as_of": "2026-01-01T00:00:00Z"},
    {"member": {"id": "M"}, "order": {"id": "O", "placed_at": "2026-01-01T00:00:00Z",
                                      "lines": [{"sku": "s", "category": "c", "quantity": 1,
                                                 "unit_price": "-1.00"}]}},
    {"member": {"id": "M"}, "order": {"id": "O", "placed_at": "2026-01-01T00:00:00Z",
                                      "lines": [{"sku": "s", "category": "c", "quantity": 1,
                                                 "unit_price": 1.00001}]}},
    {"member": {"id": "M"}, "order": {"id": "O", "placed_at": "2026-01-01T00:00:00Z",
                                      "lines": [{"sku": "s", "category": "c", "quantity": 1,
                                                 "unit_price": "1", "discont": "0"}]}},
    {"member": {"id": "M"}, "order": None},
    {"member": {"id": "M"}, "as_of": "2026-01-01T00:00:00Z", "explain": None},
    {"member": {"id": "M"}, "as_of": "2026-01-01T00:00:00Z", "redeem": {"points": 5,
                                                                        "quantity": 1}},
])
def test_known_disagreements_are_gone(doc: dict[str, Any]) -> None:
    """Documents on which the three used to differ: all three refuse them now."""
    doc = json.loads(json.dumps(doc))
    assert _schema_says("evaluation-request", doc) and _api_says(doc) and _engine_says(doc)


# ---------------------------------------------------------------- orders elsewhere

def _event_of(doc: dict[str, Any]) -> dict[str, Any]:
    event = {"type": "order", "member_id": "M-1", "at": "2026-11-17T14:30:00-05:00",
             "order": doc.get("order")}
    if "redeem" in doc:
        event["redeem"] = doc["redeem"]
    return event


@SETTINGS
@given(doc=st.one_of(requests(), mutated()))
def test_event_orders_follow_the_request_contract(doc: dict[str, Any]) -> None:
    event = json.loads(json.dumps(_event_of(doc)))
    order = event.get("order")
    schema_ok = not _schema_says("event", event) and not _discount_beyond_line(event)
    try:
        check_event(json.loads(json.dumps(event)), 1)
        engine_ok = True
    except InvalidEvent:
        engine_ok = False
    assert schema_ok == engine_ok, (schema_ok, _schema_says("event", event), event)
    if engine_ok and isinstance(order, dict) and "placed_at" in order:
        assert not _engine_says({"member": {"id": "M-1"}, "order": order,
                                 **({"redeem": event["redeem"]} if "redeem" in event else {})})


refund_amounts = st.one_of(
    amounts(signed=True), amounts(limit=10**10), st.sampled_from(
        ["0", "0.00", "0.0001", ".5", "5.", "1e2", "1,5", " 1", "-0", "00.10", "", "NaN"]),
    st.text(max_size=6), st.booleans(), st.integers(-5, 10**10),
    st.lists(st.integers(), max_size=1))


@SETTINGS
@given(amount=refund_amounts)
def test_refund_amounts_follow_one_contract(amount: Any) -> None:
    """A refund's `amount` — in a history's refund event and in the API's refund body —
    is money more than 0: the event schema, the history reader and the API agree."""
    event = json.loads(json.dumps({"type": "refund", "member_id": "M-1", "order_id": "O-1",
                                   "at": "2026-11-17T14:30:00-05:00", "amount": amount}))
    schema_ok = not _schema_says("event", event)
    try:
        check_event(event, 1)
        reader_ok = True
    except InvalidEvent:
        reader_ok = False
    try:
        RefundIn.model_validate({"refund_id": "R-1", "amount": event["amount"]})
        api_ok = True
    except ValidationError:
        api_ok = False
    assert schema_ok == reader_ok == api_ok, (schema_ok, reader_ok, api_ok, event)


def _suite_request(case: dict[str, Any]) -> dict[str, Any]:
    """The request `loyalty test` builds for a case (engine/suites/runner.py, Suite.run_case)."""
    request: dict[str, Any] = {"member": {"id": "TEST-MEMBER", **case["member"]},
                               "explain": True}
    cart = case.get("cart")
    if cart is not None:
        request["order"] = {"id": case["name"], "placed_at": "2026-11-17T14:30:00Z", **cart}
    else:
        request["as_of"] = "2026-11-17T14:30:00Z"
    for key in ("redeem", "context"):
        if key in case:
            request[key] = case[key]
    return request


@SETTINGS
@given(doc=st.one_of(requests(), mutated()))
def test_suite_cases_follow_the_request_contract(doc: dict[str, Any]) -> None:
    member, order = doc.get("member"), doc.get("order")
    if not isinstance(member, dict) or not (order is None or isinstance(order, dict)):
        return  # a fixture is a name or an object: other shapes are not the contract's
    case: dict[str, Any] = {"name": "case", "member": member, "expect": {}}
    if order is not None:
        case["cart"] = order
    for key in ("redeem", "context"):
        if key in doc and doc[key] is not None:
            case[key] = doc[key]
    suite = json.loads(json.dumps({"suite": "s", "now": "2026-11-17T14:30:00Z",
                                   "cases": [case]}))
    case = suite["cases"][0]
    schema_ok = not _schema_says("test-suite", suite) and not _discount_beyond_line(
        {"order": case.get("cart")})
    engine_ok = not _engine_says(_suite_request(case))
    if isinstance(case.get("cart"), dict) and not case["cart"].get("lines"):
        engine_ok = False  # a suite's cart has at least one line
    assert schema_ok == engine_ok, (schema_ok, _schema_says("test-suite", suite),
                                    _engine_says(_suite_request(case)), case)


def test_the_schemas_spell_the_contracts_patterns() -> None:
    """The JSON Schema's patterns are engine/evaluation/contract.py's, character for character."""
    text = json.dumps(load_schema("evaluation-request"))
    for pattern in (contract.TEXT_PATTERN, contract.MONEY_PATTERN, contract.INSTANT_PATTERN,
                    contract.DATE_PATTERN, contract.DATE_OR_INSTANT_PATTERN,
                    contract.CURRENCY_PATTERN, contract.CODE_PATTERN):
        assert json.dumps(pattern) in text
        re.compile(pattern)


def test_remembered_amounts_and_dates_are_what_the_checks_give() -> None:
    """`money` and `calendar_date` remember the texts they accepted (the request parser's
    hot path): a second read gives the same value, exponent included; a refused text is
    refused every time and never remembered; the memory is bounded."""
    for text in ["19.99", "0", "007.5000", "999999999.9999"]:
        first = contract.money(text)
        assert str(first) == str(Decimal(text)) and contract.money(text) is first
        assert contract.amount_text(text) is first
    for bad in ["1e3", "-1", "1.23456", " 1", "1,00", "1000000000"]:
        for _ in range(2):
            with pytest.raises(ValueError):
                contract.money(bad)
        assert contract.amount_text(bad) is None
    assert contract.calendar_date("1988-02-29") == date(1988, 2, 29)
    assert contract.calendar_date("1988-02-29") is contract.calendar_date("1988-02-29")
    for bad_date in ["1989-02-29", "2026-13-01", "1899-12-31"]:
        for _ in range(2):
            with pytest.raises(ValueError):
                contract.calendar_date(bad_date)
    for i in range(contract._AMOUNTS_KEPT + 10):
        assert contract.amount_text(f"{i}.01") == Decimal(f"{i}.01")
    assert len(contract._AMOUNTS) <= contract._AMOUNTS_KEPT


def test_is_text_says_what_text_accepts() -> None:
    for value in ["gold", "x" * contract.NAME_CHARS, "x" * (contract.NAME_CHARS + 1), "",
                  "a\x00b", "\ud800", 5, None, ["a"]]:
        try:
            contract.text(value)
            accepted = True
        except ValueError:
            accepted = False
        assert contract.is_text(value) is accepted, value
