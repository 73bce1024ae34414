"""The condition language (all / any / not over field comparisons).

One tree, three uses: compiled to durable-rules JSON (`to_durable`), evaluated in Python
to say *why* a rule did not fire (`explain`), and reduced to the atoms that decide it
(`Atoms`), which key the decision cache. A field missing from the fact makes every
comparison on it false, as it does in durable-rules.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "between")
ORDERED = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
NEGATE = {"eq": "ne", "ne": "eq", "gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt",
          "in": "not_in", "not_in": "in"}
# Fields whose values are lists (membership tests use `contains`).
LIST_FIELDS = ("member.attributes.segments", "order.categories")
ALWAYS = {"kind": "fact"}
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def leaf_op(leaf: Mapping[str, Any]) -> tuple[str, Any]:
    for op in OPERATORS:
        if op in leaf:
            return op, leaf[op]
    raise ValueError(f"condition has no operator: {dict(leaf)}")


def fact_name(path: str, numeric: bool = False) -> str:
    """Durable-rules field name for a dotted path (`id`/`sid` are reserved there).

    Numeric comparisons read a separate field that holds the value only when it is a
    number, so a string compared with a number never matches (as in Python).
    """
    return "f_" + path.replace(".", "__") + ("__num" if numeric else "")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def comparable(actual: Any, expected: Any) -> bool:
    """Whether `actual` can be compared with `expected`; if not, it counts as missing."""
    if isinstance(actual, (list, tuple, set, frozenset, dict)):
        return False
    return not is_number(expected) or is_number(actual)


def flag_name(path: str, value: Any) -> str:
    return f"{fact_name(path)}__has__{value}"


def scalar(value: Any) -> Any:
    """Normalise a comparison operand: money → Decimal, dates → yyyymmdd int."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, date):
        return value.year * 10000 + value.month * 100 + value.day
    if isinstance(value, (int, Decimal)):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
            try:
                return scalar(date.fromisoformat(text))
            except ValueError:
                return value
        try:
            return Decimal(text) if text and (text[0].isdigit() or text[0] == "-") else value
        except ArithmeticError:
            return value
    return value


def _json_value(value: Any) -> Any:
    value = scalar(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# ---------------------------------------------------------------- durable-rules JSON

def to_durable(cond: Mapping[str, Any], negate: bool = False) -> dict[str, Any]:
    """Compile a condition tree to a durable-rules expression (negation pushed to leaves)."""
    if "all" in cond or "any" in cond:
        key = "all" if "all" in cond else "any"
        parts = [to_durable(c, negate) for c in cond[key]]
        use_and = (key == "all") != negate
        if not parts:  # all([]) holds, any([]) does not
            return dict(ALWAYS) if use_and else {"kind": "never"}
        return parts[0] if len(parts) == 1 else {"$and" if use_and else "$or": parts}
    if "not" in cond:
        return to_durable(cond["not"], not negate)
    return _leaf_to_durable(cond, negate)


def _leaf_to_durable(leaf: Mapping[str, Any], negate: bool) -> dict[str, Any]:
    """One comparison. Negated, it also holds when its field is missing (`$nex`), which
    is what `not` means in Python: a comparison on a missing value is false, its
    negation true."""
    path = leaf["field"]
    op, value = leaf_op(leaf)

    def named(v: Any) -> str:
        return fact_name(path, numeric=is_number(scalar(v)))

    def or_missing(expr: dict[str, Any], name: str) -> dict[str, Any]:
        return {"$or": [expr, {"$nex": {name: 1}}]} if negate else expr

    if op == "between":
        low, high = value
        if negate:
            return or_missing({"$or": [{"$lt": {named(low): _json_value(low)}},
                                       {"$gt": {named(high): _json_value(high)}}]}, named(low))
        return {"$and": [{"$gte": {named(low): _json_value(low)}},
                         {"$lte": {named(high): _json_value(high)}}]}
    if op == "contains":
        flag = flag_name(path, value)
        return or_missing({flag: not negate}, flag)
    if negate:
        op = NEGATE[op]
    if op == "eq":
        return or_missing({named(value): _json_value(value)}, named(value))
    if op == "ne":
        return or_missing({"$neq": {named(value): _json_value(value)}}, named(value))
    if op in ORDERED:
        return or_missing({ORDERED[op]: {named(value): _json_value(value)}}, named(value))
    values = list(value)
    if op == "in":  # durable-rules has no working $in: compile to $or
        if not values:
            return {"kind": "never"}
        parts = [{named(v): _json_value(v)} for v in values]
        return parts[0] if len(parts) == 1 else {"$or": parts}
    if not values:  # not_in of nothing: true whenever the field is present (or negated)
        return dict(ALWAYS) if negate else {"$ex": {fact_name(path): 1}}
    parts = [or_missing({"$neq": {named(v): _json_value(v)}}, named(v)) for v in values]
    return parts[0] if len(parts) == 1 else {"$and": parts}


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


def holds(cond: Mapping[str, Any], fact: Mapping[str, Any]) -> bool:
    """Python evaluation: a comparison on a missing or incomparable value is false, and
    `not` is plain negation (so `not` over a missing field holds)."""
    if "all" in cond:
        return all(holds(c, fact) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, fact) for c in cond["any"])
    if "not" in cond:
        return not holds(cond["not"], fact)
    return test_leaf(cond, fact)


def describe_leaf(leaf: Mapping[str, Any]) -> str:
    op, value = leaf_op(leaf)
    return f"{leaf['field']} {op} {value!r}"


def explain(cond: Mapping[str, Any], fact: Mapping[str, Any]) -> list[str]:
    """Human reasons why `cond` does not hold for `fact` (empty when it holds)."""
    if holds(cond, fact):
        return []
    if "all" in cond:
        return [r for c in cond["all"] for r in explain(c, fact)]
    if "any" in cond:
        return ["none of: " + "; ".join(r for c in cond["any"] for r in explain(c, fact))]
    if "not" in cond:
        return [f"not ({_brief(cond['not'])}) is false: the inner condition holds"]
    actual = lookup(fact, cond["field"])
    op, expected = leaf_op(cond)
    if cond["field"] == "order.local_date" and isinstance(actual, int):
        actual = f"{actual // 10000:04d}-{actual // 100 % 100:02d}-{actual % 100:02d}"
    shown = "missing" if actual is None else repr(_plain(actual))
    return [f"{cond['field']} is {shown}; needs {op} {_plain(expected)!r}"]


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
    return value


# ---------------------------------------------------------------- decision atoms

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


@dataclass
class Atoms:
    """What a set of conditions can distinguish about a fact.

    Two facts with the same `key` are decided identically by every condition the atoms
    were built from: numbers fall in the same interval between thresholds, categorical
    values are either one of the values named or "something else", lists contain the
    same named members. This makes the decision cache exact, not approximate.
    """

    thresholds: dict[str, list[Any]] = field(default_factory=dict)
    values: dict[str, set[Any]] = field(default_factory=dict)
    members: dict[str, set[Any]] = field(default_factory=dict)
    _order: tuple[str, ...] = ()
    _plan: tuple = ()

    def add(self, cond: Mapping[str, Any]) -> None:
        for leaf in leaves(cond):
            path = leaf["field"]
            op, value = leaf_op(leaf)
            if op == "contains":
                self.members.setdefault(path, set()).add(value)
            elif op in ORDERED or op == "between":
                bucket = self.thresholds.setdefault(path, [])
                bucket.extend(scalar(v) for v in (value if op == "between" else [value]))
            else:
                vals = value if op in ("in", "not_in") else [value]
                self.values.setdefault(path, set()).update(scalar(v) for v in vals)

    def freeze(self) -> None:
        for path, bucket in self.thresholds.items():
            self.thresholds[path] = sorted(set(bucket))
        self._order = tuple(sorted(set(self.thresholds) | set(self.values) | set(self.members)))
        self._plan = tuple((path, self._part(path)) for path in self._order)

    def _part(self, path: str) -> Callable[[Any], Any]:
        """The key component of one field, as a function of its (non-missing) value."""
        if path in self.members:
            named = tuple(sorted(self.members[path], key=str))
            return lambda actual: tuple(m for m in named if m in actual) \
                if isinstance(actual, (list, tuple, set, frozenset)) else None
        th = self.thresholds.get(path)
        vals = self.values.get(path)

        def part(actual: Any) -> Any:
            if isinstance(actual, (list, tuple, set, frozenset, dict)):
                return None  # incomparable: decided as if missing
            if type(actual) is not int:
                actual = scalar(actual)
            pos: tuple[int, int] | str | None
            try:
                pos = (bisect_left(th, actual), bisect_right(th, actual)) if th else None
            except TypeError:  # a string where numbers are compared: never matches them
                pos = "NaN"
            return (pos, actual if vals is not None and actual in vals else "~")

        if th is None and vals is not None and all(type(v) is str for v in vals):
            return lambda actual: actual if type(actual) is str and actual in vals else (
                "~" if type(actual) is str else part(actual))
        return part

    @property
    def fields(self) -> tuple[str, ...]:
        return self._order

    def plan(self, prefix: str | None = None, exclude: bool = False) -> tuple:
        """Key plan for the fields that start (or, with exclude, don't start) with prefix."""
        if prefix is None:
            return self._plan
        return tuple(p for p in self._plan if p[0].startswith(prefix) != exclude)

    def key(self, fact: Mapping[str, Any], plan: tuple | None = None) -> tuple[Any, ...]:
        get = fact.get
        return tuple(None if (v := get(path)) is None else part(v)
                     for path, part in (self._plan if plan is None else plan))
