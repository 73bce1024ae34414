"""What the rule engine sees of a fact: small integers, exact for any value.

durable-rules reads JSON numbers as doubles (100.0000000000000001 arrives as 100.0) and
compares strings in C. So no fact value crosses into it as such. For every field, the
conditions of a decision group name finitely many operands, and a value's *code* says
where it falls among them:

- numbers: the rank among the field's sorted numeric operands t0 < t1 < … < tk-1,
  `bisect_left + bisect_right + 1`: an odd code lies strictly between two operands, the
  even code 2i+2 is operand ti itself. `x > ti` becomes `code > 2i+2`, and so on: integer
  comparisons, exact for any number of decimal places, huge or tiny;
- strings compared with gt/gte/lt/lte/between: the same rank among the string operands;
- values compared with eq/ne/in/not_in that are not numbers (strings, booleans, null):
  which operand the value equals (1…k, in Python's `==`), or k+1 for none of them;
- `contains` on a list: one 1/0 flag per named member.

A value of the wrong kind (a string where numbers are compared, a list, a missing
field) gets the code 0, or for `lt`/`lte` a code above every other, so that every
comparison on it is false and its negation true — as in Python (engine/rules/conditions.py).
No field is ever absent from what the engine sees, so `not` needs no `$nex`.

The codes of a fact are also its decision-cache key (`Encoding.key`): two facts with the
same key send the engine the same integers, so the cache is exact by construction.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.rules.conditions import ORDERED, is_number, leaf_op, leaves, scalar

ALWAYS: dict[str, Any] = {"kind": "fact"}
NEVER: dict[str, Any] = {"kind": "never"}
COLLECTIONS = (list, tuple, set, frozenset, dict)
LISTS = (list, tuple, set, frozenset)
_RESERVED = ("kind", "sid", "id", "$s", "$forward")


def fnv1a(name: str) -> int:
    """The native engine's 32-bit property-name hash (json.c): names are told apart by it."""
    h = 0x811C9DC5
    for byte in name.encode():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def cmp(name: str, op: str, code: int) -> dict[str, Any]:
    """One integer comparison in durable-rules JSON."""
    if op == "eq":
        return {name: code}
    return {("$neq" if op == "ne" else ORDERED[op]): {name: code}}


def combine(op: str, parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`$and`/`$or` of parts, flattened, without duplicates or constant parts."""
    key, unit, zero = ("$and", ALWAYS, NEVER) if op == "and" else ("$or", NEVER, ALWAYS)
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for p in part.get(key, [part]):
            if p == zero:
                return dict(zero)
            if p != unit:
                out.setdefault(repr(p), dict(p))
    items = list(out.values())
    return dict(unit) if not items else items[0] if len(items) == 1 else {key: items}


def _rank(operands: list[Any], value: Any) -> int:
    return bisect_left(operands, value) + bisect_right(operands, value) + 1


@dataclass
class FieldCode:
    """The codes of one field, from every operand the group's conditions compare it with."""

    path: str
    numbers: list[Any] = field(default_factory=list)
    strings: list[Any] = field(default_factory=list)
    values: dict[Any, int] = field(default_factory=dict)
    members: list[Any] = field(default_factory=list)
    valued: bool = False  # whether the value slot exists (eq/ne/in/not_in on non-numbers)
    names: dict[str, str] = field(default_factory=dict)  # slot property → durable name

    def slots(self) -> list[str]:
        out = (["n"] if self.numbers else []) + (["v"] if self.valued else [])
        out += (["s"] if self.strings else []) + [f"f{j}" for j in range(len(self.members))]
        return out

    def part(self) -> Callable[[Any], Any]:
        """The key part of a (non-missing) value: one code, or a tuple for several slots."""
        numbers, strings, values, members = self.numbers, self.strings, self.values, self.members
        other, valued = len(values) + 1, self.valued
        zeros = (0,) * len(members)

        def codes(actual: Any) -> tuple[int, ...]:
            if isinstance(actual, COLLECTIONS):
                flags = tuple(int(m in actual) for m in members) \
                    if isinstance(actual, LISTS) else zeros
                return (0,) * (len(self.slots()) - len(members)) + flags
            s = actual if type(actual) is int else scalar(actual)
            out = [_rank(numbers, s) if is_number(s) else 0] if numbers else []
            if valued:
                try:
                    out.append(values.get(s, other))
                except TypeError:  # unhashable: equal to no operand
                    out.append(other)
            if strings:
                out.append(_rank(strings, s) if isinstance(s, str) else 0)
            return tuple(out) + zeros

        if len(self.slots()) != 1:
            return codes
        if numbers:  # the hot path: one numeric slot
            def number(actual: Any) -> int:
                # ints, and finite Decimals (money: what `scalar` returns unchanged)
                if type(actual) is int or (type(actual) is Decimal and actual.is_finite()):
                    return bisect_left(numbers, actual) + bisect_right(numbers, actual) + 1
                return codes(actual)[0]
            return number
        if valued and not any(type(v) is bool for v in values):
            # only strings named: any value but those strings is "none of them"
            return lambda actual: values.get(actual, other) if type(actual) is str \
                else codes(actual)[0]
        return lambda actual: codes(actual)[0]

    def props(self, part: Any, out: dict[str, int]) -> None:
        """The durable properties of one key part (None: the field is missing)."""
        slots = self.slots()
        if part is None:
            part = (0,) * len(slots)
        elif len(slots) == 1:
            part = (part,)
        names = self.names
        for slot, code in zip(slots, part):
            if slot == "n":
                out[names["nl"]] = code
                out[names["nh"]] = code or 2 * len(self.numbers) + 2
            elif slot == "s":
                out[names["sl"]] = code
                out[names["sh"]] = code or 2 * len(self.strings) + 2
            else:
                out[names[slot]] = code

    # ------------------------------------------------------------ compiling comparisons
    def leaf(self, op: str, operand: Any, negate: bool) -> dict[str, Any]:
        if op == "contains":
            return {self.names[f"f{self.members.index(operand)}"]: 0 if negate else 1}
        if op == "in":  # any(field == v); negated: all(not field == v)
            return combine("and", [self._unequal(v, True) for v in operand]) if negate \
                else combine("or", [self._equal(v, False) for v in operand])
        if op == "not_in":  # all(field != v), false on a missing field; negated: any(not …)
            if not operand:  # none of nothing: any present value
                return cmp(self.names["v"], "eq" if negate else "gt", 0)
            return combine("or", [self._unequal(v, False) for v in operand]) if negate \
                else combine("and", [self._equal(v, True) for v in operand])
        if op == "between":
            low, high = scalar(operand[0]), scalar(operand[1])
            if is_number(low) != is_number(high):  # no value is both a number and a string
                return dict(ALWAYS if negate else NEVER)
            lo, hi = self._ordered_names(low, high)
            if negate:
                return combine("or", [cmp(lo, "lt", self._code(low)),
                                      cmp(hi, "gt", self._code(high))])
            return combine("and", [cmp(lo, "gte", self._code(low)),
                                   cmp(hi, "lte", self._code(high))])
        if op in ("eq", "ne"):
            return self._equal(operand, op == "ne") if not negate \
                else self._unequal(operand, op == "eq")
        value = scalar(operand)
        lo, hi = self._ordered_names(value, value)
        # gt/gte read the code that is 0 when missing, lt/lte the one above every code:
        # either way a missing value fails the comparison and passes its negation.
        flipped = {"gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt"}[op] if negate else op
        return cmp(lo if op in ("gt", "gte") else hi, flipped, self._code(value))

    def _equal(self, operand: Any, ne: bool) -> dict[str, Any]:
        """`field == operand` (ne: `field != operand`, both false on a missing field)."""
        value = scalar(operand)
        if is_number(value):
            name = self.names["nl"]
            return combine("and", [cmp(name, "gt", 0), cmp(name, "ne", self._code(value))]) \
                if ne else cmp(name, "eq", self._code(value))
        name = self.names["v"]
        if value is None:  # nothing equals null; everything present differs from it
            return cmp(name, "gt", 0) if ne else dict(NEVER)
        code = self.values[value]
        return combine("and", [cmp(name, "gt", 0), cmp(name, "ne", code)]) \
            if ne else cmp(name, "eq", code)

    def _unequal(self, operand: Any, eq: bool) -> dict[str, Any]:
        """not (`field == operand`) (eq: not (`field != operand`)): true when missing."""
        value = scalar(operand)
        number = is_number(value)
        name = self.names["nl" if number else "v"]
        if value is None and not number:
            return cmp(name, "eq", 0) if not eq else dict(ALWAYS)
        code = self._code(value) if number else self.values[value]
        return cmp(name, "ne", code) if eq \
            else combine("or", [cmp(name, "eq", 0), cmp(name, "eq", code)])

    def _ordered_names(self, low: Any, high: Any) -> tuple[str, str]:
        if is_number(low) and is_number(high):
            return self.names["nl"], self.names["nh"]
        if isinstance(low, str) and isinstance(high, str):
            return self.names["sl"], self.names["sh"]
        raise ValueError(f"{self.path}: cannot order {low!r} and {high!r}")

    def _code(self, value: Any) -> int:
        operands = self.numbers if is_number(value) else self.strings
        return 2 * bisect_left(operands, value) + 2


class Encoding:
    """The fields of a decision group, their codes, and the conditions compiled on them."""

    def __init__(self) -> None:
        self._numbers: dict[str, set[Any]] = {}
        self._strings: dict[str, set[Any]] = {}
        self._values: dict[str, dict[Any, None]] = {}
        self._members: dict[str, dict[Any, None]] = {}
        self.fields: dict[str, FieldCode] = {}
        self._plan: tuple[tuple[str, Callable[[Any], Any]], ...] = ()

    def add(self, cond: Mapping[str, Any]) -> None:
        for leaf in leaves(cond):
            path = leaf["field"]
            op, operand = leaf_op(leaf)
            if op == "contains":
                self._members.setdefault(path, {}).setdefault(operand)
                continue
            ordered = op in ORDERED or op == "between"
            operands = operand if op in ("in", "not_in", "between") else [operand]
            for value in map(scalar, operands):
                if is_number(value):
                    self._numbers.setdefault(path, set()).add(value)
                elif ordered:
                    if not isinstance(value, str):
                        raise ValueError(f"{path}: {op} compares numbers or strings, "
                                         f"not {value!r}")
                    self._strings.setdefault(path, set()).add(value)
                else:  # strings, booleans, null: by equality
                    values = self._values.setdefault(path, {})
                    if value is not None:
                        values.setdefault(value)
            if op in ("in", "not_in") and not operands:  # a value slot, compared with nothing
                self._values.setdefault(path, {})

    def freeze(self) -> None:
        paths = set(self._numbers) | set(self._strings) | set(self._values) | set(self._members)
        order = sorted(paths, key=lambda p: (p.startswith("line."), p))
        taken = {fnv1a(name) for name in _RESERVED}
        for index, path in enumerate(order):
            code = FieldCode(path, sorted(self._numbers.get(path, ())),
                             sorted(self._strings.get(path, ())),
                             {v: i + 1 for i, v in enumerate(self._values.get(path, {}))},
                             list(self._members.get(path, {})), path in self._values)
            kinds = ["nl", "nh"] * bool(code.numbers) + ["v"] * code.valued \
                + ["sl", "sh"] * bool(code.strings) + [f"f{j}" for j in range(len(code.members))]
            for kind in kinds:
                name = f"p{index}{kind}"
                while fnv1a(name) in taken:  # the engine tells properties apart by hash
                    name += "_"
                taken.add(fnv1a(name))
                code.names[kind] = name
            self.fields[path] = code
        self._plan = tuple((path, self.fields[path].part()) for path in order)

    def plan(self, prefix: str | None = None, exclude: bool = False) -> tuple:
        """Key plan for the fields that start (or, with exclude, don't start) with prefix."""
        if prefix is None:
            return self._plan
        return tuple(p for p in self._plan if p[0].startswith(prefix) != exclude)

    def key(self, fact: Mapping[str, Any], plan: tuple | None = None) -> tuple[Any, ...]:
        get = fact.get
        # a list comprehension: a third faster than a generator here (the hot path)
        return tuple([None if (v := get(path)) is None else part(v)
                      for path, part in (self._plan if plan is None else plan)])

    def props(self, key: tuple[Any, ...]) -> dict[str, int]:
        """What the engine sees for a key of the full plan: every property, an integer."""
        out: dict[str, int] = {}
        for (path, _), part in zip(self._plan, key):
            self.fields[path].props(part, out)
        return out

    def to_durable(self, cond: Mapping[str, Any], negate: bool = False) -> dict[str, Any]:
        """Compile a condition tree to durable-rules JSON on the codes (negation pushed
        to the comparisons, which all hold their own negation)."""
        if "all" in cond or "any" in cond:
            key = "all" if "all" in cond else "any"
            parts = [self.to_durable(c, negate) for c in cond[key]]
            return combine("and" if (key == "all") != negate else "or", parts)
        if "not" in cond:
            return self.to_durable(cond["not"], not negate)
        op, operand = leaf_op(cond)
        return self.fields[cond["field"]].leaf(op, operand, negate)
