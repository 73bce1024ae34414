"""The condition language (all / any / not over field comparisons).

One tree, three uses: compiled to durable-rules on integer codes (engine/rules/encoding.py),
reduced to the operands that key the decision cache (the same codes), and rendered for
explain from the engine's answers to its comparisons (`explain` with `held`). The plain
Python evaluation (`holds` without `held`) is the statement the tests hold the engine to.
A field missing from the fact makes every comparison on it false, and `not` is plain
negation — in Python and in the rule engine alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "between")
ORDERED = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
NEGATE = {"eq": "ne", "ne": "eq", "gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt",
          "in": "not_in", "not_in": "in"}
# Fields whose values are lists (membership tests use `contains`).
LIST_FIELDS = ("member.attributes.segments", "order.categories")
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def leaf_op(leaf: Mapping[str, Any]) -> tuple[str, Any]:
    for op in OPERATORS:
        if op in leaf:
            return op, leaf[op]
    raise ValueError(f"condition has no operator: {dict(leaf)}")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def comparable(actual: Any, expected: Any) -> bool:
    """Whether `actual` can be compared with `expected`; if not, it counts as missing."""
    if isinstance(actual, (list, tuple, set, frozenset, dict)):
        return False
    return not is_number(expected) or is_number(actual)


def scalar(value: Any) -> Any:
    """Normalise a comparison operand: money → Decimal, dates → yyyymmdd int; never NaN
    (a NaN is kept as text, so it compares like a string)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, date):
        return value.year * 10000 + value.month * 100 + value.day
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):  # a NaN is no number: it is compared as its text
        return str(value) if value.is_nan() else value
    if isinstance(value, float):
        exact = Decimal(repr(value))
        return repr(value) if exact.is_nan() else exact
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
            try:
                return scalar(date.fromisoformat(text))
            except ValueError:
                return value
        try:
            number = Decimal(text) if text and (text[0].isdigit() or text[0] == "-") else None
        except ArithmeticError:
            return value
        return value if number is None or number.is_nan() else number
    return value


# ---------------------------------------------------------------- Python evaluation

def lookup(fact: Mapping[str, Any], path: str) -> Any:
    return fact.get(path)


def test_leaf(leaf: Mapping[str, Any], fact: Mapping[str, Any], negate: bool = False) -> bool:
    """One comparison; a missing or incomparable value makes it false, negated or not."""
    op, expected = leaf_op(leaf)
    actual = lookup(fact, leaf["field"])
    if actual is None:
        return False
    if op == "contains":
        if not isinstance(actual, (list, tuple, set, frozenset)):
            return False
        return (expected in actual) != negate
    if isinstance(actual, (list, tuple, set, frozenset, dict)):
        return False
    actual = scalar(actual)
    if op == "between":
        low, high = scalar(expected[0]), scalar(expected[1])
        if not (comparable(actual, low) and comparable(actual, high)):
            return False
        inside = _cmp(actual, low, "gte") and _cmp(actual, high, "lte")
        return inside != negate
    if op in ("in", "not_in"):
        if negate:
            op = NEGATE[op]
        values = [scalar(v) for v in expected]
        if op == "in":
            return any(comparable(actual, v) and _cmp(actual, v, "eq") for v in values)
        if not values:
            return True
        return all(comparable(actual, v) and _cmp(actual, v, "ne") for v in values)
    expected = scalar(expected)
    if not comparable(actual, expected):
        return False
    return _cmp(actual, expected, NEGATE[op] if negate else op)


def _cmp(a: Any, b: Any, op: str) -> bool:
    try:
        if op == "eq":
            return bool(a == b)
        if op == "ne":
            return bool(a != b)
        if op == "gt":
            return bool(a > b)
        if op == "gte":
            return bool(a >= b)
        if op == "lt":
            return bool(a < b)
        return bool(a <= b)
    except TypeError:
        return False


def holds(cond: Mapping[str, Any], fact: Mapping[str, Any],
          held: Callable[[Mapping[str, Any]], bool] | None = None) -> bool:
    """Python evaluation: a comparison on a missing or incomparable value is false, and
    `not` is plain negation (so `not` over a missing field holds). With `held`, the
    comparisons are not evaluated: `held(leaf)` answers them (the engine's answers)."""
    if "all" in cond:
        return all(holds(c, fact, held) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, fact, held) for c in cond["any"])
    if "not" in cond:
        return not holds(cond["not"], fact, held)
    return held(cond) if held is not None else test_leaf(cond, fact)


def describe_leaf(leaf: Mapping[str, Any]) -> str:
    op, value = leaf_op(leaf)
    return f"{leaf['field']} {op} {value!r}"


def explain(cond: Mapping[str, Any], fact: Mapping[str, Any],
            held: Callable[[Mapping[str, Any]], bool] | None = None) -> list[str]:
    """Human reasons why `cond` does not hold for `fact` (empty when it holds): the
    comparisons that fail, with the fact's values. `held` as in `holds`."""
    if holds(cond, fact, held):
        return []
    if "all" in cond:
        return [r for c in cond["all"] for r in explain(c, fact, held)]
    if "any" in cond:
        return ["none of: " + "; ".join(r for c in cond["any"] for r in explain(c, fact, held))]
    if "not" in cond:
        return [f"not ({_brief(cond['not'])}) is false: the inner condition holds"]
    actual = lookup(fact, cond["field"])
    op, expected = leaf_op(cond)
    shown = "missing" if actual is None else repr(shown_value(cond["field"], actual))
    return [f"{cond['field']} is {shown}; needs {op} {_plain(expected)!r}"]


def shown_value(path: str, value: Any) -> Any:
    """A fact's value as explain shows it (JSON: decimals as text, local dates ISO)."""
    if path == "order.local_date" and isinstance(value, int):
        return f"{value // 10000:04d}-{value // 100 % 100:02d}-{value % 100:02d}"
    return _plain(value)


def _brief(cond: Mapping[str, Any]) -> str:
    if "field" in cond:
        return describe_leaf(cond)
    key = next(iter(cond))
    return f"{key}(...)"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple, frozenset, set)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is no JSON
        return repr(value)
    return value


# ---------------------------------------------------------------- decision atoms

def leaf_key(leaf: Mapping[str, Any]) -> str:
    """A comparison's identity: the same text for the same field, operator and operand."""
    return json.dumps(leaf, sort_keys=True, default=str)


def leaves(cond: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for key in ("all", "any"):
        if key in cond:
            for c in cond[key]:
                yield from leaves(c)
            return
    if "not" in cond:
        yield from leaves(cond["not"])
        return
    yield cond
