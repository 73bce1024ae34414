"""The sandbox message templates run in: jinja2's `SandboxedEnvironment` (no attribute
starting with `_`, no unsafe callables) narrowed so that a template `loyalty validate`
accepts cannot exhaust the worker that renders it.

A template is written by a ruleset's author and rendered for every member an event
reaches, so beyond jinja2's sandbox it may not:
- make a large value in one step: `'x' * 10**9`, `9**9**9`, `'%0999999999d' % 1`
  (`*` of a text or list is capped at `MAX_SIZE` items, `**` at `MAX_POWER_BITS` bits,
  `%` formatting of a text is refused);
- call anything but `range` (capped at `MAX_RANGE` items a call and `MAX_RANGE` items in
  one rendering) and a few methods that cannot grow a value (`SAFE_METHODS`): no
  `'x'.center(10**9)`, `'{:>999999999}'.format(1)`, `loop.cycle`, macros or `caller`;
- use a filter or global outside `SAFE_FILTERS` and `range` (no `center`, `indent`,
  `format`, `attr`, `lipsum`, `namespace`, and no `safe`: a member's attribute is always
  escaped in an HTML body).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["MAX_POWER_BITS", "MAX_RANGE", "MAX_SIZE", "SAFE_FILTERS", "SAFE_METHODS",
           "MessageSandbox", "guarded", "rendering_budget"]

MAX_SIZE = 10_000  # items (characters) one `*` may make
MAX_POWER_BITS = 4_096  # bits of the result of one `**`
MAX_RANGE = 1_000  # items of one range(), and of all the ranges of one rendering

SAFE_FILTERS = frozenset({
    "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float",
    "forceescape", "int", "join", "last", "length", "list", "lower", "max", "min", "replace",
    "reverse", "round", "sort", "string", "striptags", "sum", "title", "tojson", "trim",
    "truncate", "unique", "upper", "urlencode", "wordcount", "dictsort", "filesizeformat",
})
SAFE_METHODS = frozenset({
    "upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
    "endswith", "isdigit", "isalpha", "get", "items", "keys", "values",
})

_budget: ContextVar[list[int] | None] = ContextVar("template_range_budget", default=None)


class rendering_budget:
    """Within it, the ranges of the templates rendered share `MAX_RANGE` items (nested
    loops cannot multiply them)."""

    def __enter__(self) -> None:
        self._token = _budget.set([MAX_RANGE])

    def __exit__(self, *exc: object) -> None:
        _budget.reset(self._token)


def _range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() of {len(numbers)} items: at most {MAX_RANGE}")
    left = _budget.get()
    if left is not None:
        if left[0] < len(numbers):
            raise SecurityError(f"the loops of this template go over more than {MAX_RANGE} "
                                "items of range() in all")
        left[0] -= len(numbers)
    return iter(numbers)


def _sized(value: Any) -> bool:
    return isinstance(value, (str, list, tuple, bytes))


def _multiply(left: Any, right: Any) -> Any:
    for seq, times in ((left, right), (right, left)):
        if _sized(seq) and isinstance(times, int) and len(seq) * times > MAX_SIZE:
            raise SecurityError(f"'*' would make {len(seq) * times} items: at most {MAX_SIZE}")
    return operator.mul(left, right)


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) \
            and max(abs(left).bit_length(), 1) * abs(right) > MAX_POWER_BITS:
        raise SecurityError(f"'**' would make a number of more than {MAX_POWER_BITS} bits")
    return operator.pow(left, right)


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise SecurityError("'%' formatting of a text is not allowed in a message template "
                            "(join texts with '~')")
    return operator.mod(left, right)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {"*": _multiply, "**": _power, "%": _modulo}
_PLAIN: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "/": operator.truediv, "//": operator.floordiv}


def guarded(op: str, left: Any, right: Any) -> Any:
    """`left op right` within the limits (a `SecurityError` past them)."""
    return (_BINOPS.get(op) or _PLAIN[op])(left, right)


class MessageSandbox(SandboxedEnvironment):
    """jinja2's sandbox, narrowed for message templates (see the module's text)."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, html: bool) -> None:
        super().__init__(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)
        # jinja2's default filters (what the environment starts with), narrowed
        self.filters = {name: f for name, f in DEFAULT_FILTERS.items() if name in SAFE_FILTERS}
        self.globals = {"range": _range}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return _BINOPS[operator](left, right)

    def call(__self, __context: Context, __obj: Any,
             *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if not (__obj is _range or (isinstance(owner, (str, dict))
                                    and getattr(__obj, "__name__", "") in SAFE_METHODS)):
            name = getattr(__obj, "__name__", type(__obj).__name__)
            raise SecurityError(f"a message template cannot call {name!r} (it may call "
                                f"range and {', '.join(sorted(SAFE_METHODS))})")
        return super().call(__context, __obj, *args, **kwargs)
