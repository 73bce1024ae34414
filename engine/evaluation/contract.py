"""The input contract: what the values of a request may be, decided in one place.

The engine's request parser (engine/evaluation/request.py: `loyalty evaluate`, rule test suites,
simulated histories) and the HTTP API's models (api/schemas.py) call these functions and
share these bounds; the JSON Schemas in schemas/ restate them (their patterns are these
patterns, checked by tests/engine/test_contract.py, which also feeds the same generated
documents to all three and expects the same accept/reject).

Each check takes the value as decoded from JSON (or YAML) and returns it, typed, or
raises Invalid (a ValueError) with a message for a person. Rules:

* text: a JSON string without control characters (U+0000–U+001F, U+007F–U+009F) or lone
  surrogates
  (``"\\udfff"`` cannot be stored or sent on), within a length;
* money: a decimal string (digits, at most 9 before the point and 4 after) or a JSON
  number, 0 ≤ x < 1,000,000,000 with at most 4 decimal places;
* integers: JSON integers (a number with no fraction, such as ``2.0``, counts), never
  strings or booleans, within bounds;
* numbers (member attributes, context): -10^11 < x < 10^11 with at most 4 decimal
  places, so every accepted number is exact as a double;
* instants: ISO 8601 with a UTC offset, years 1900–2999; dates: YYYY-MM-DD, real dates.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any


class Invalid(ValueError):
    """A value breaks the contract; the message says how, for a person."""


ID_CHARS = 128  # member, order, refund and event ids
NAME_CHARS = 200  # tier, sku, category, channel, reward ids, attribute and context text
KEY_CHARS = 100  # attribute and context names, member.state map keys
MONEY_PLACES = 4
MONEY_LIMIT = 1_000_000_000  # exclusive
NUMBER_LIMIT = 100_000_000_000  # exclusive, both signs
POINTS_LIMIT = 10**12
QUANTITY_LIMIT = 1_000_000  # units on one order line
REDEEM_QUANTITY_LIMIT = 1000  # units of one catalog reward
VERSION_LIMIT = 2**31 - 1
MAX_LINES = 500
MAX_CONTEXT = 50
MAX_ATTRIBUTES = 100
MAX_LIST = 100  # strings in a list attribute (segments, …) or awarded_upgrades
MAX_COUNTERS = 1000  # entries of one member.state map

# The patterns as the JSON Schemas spell them (ECMA-262 and Python agree on these).
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]*$"
MONEY_PATTERN = "^[0-9]{1,9}(\\.[0-9]{1,4})?$"
_YEAR = "(19|2[0-9])[0-9]{2}"
_LEAP = "((19|2[0-9])(0[48]|[2468][048]|[13579][26])|2000|2400)"
_DATE = (f"({_YEAR}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
         f"|02-(0[1-9]|1[0-9]|2[0-8]))|{_LEAP}-02-29)")
_TIME = "T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
_OFFSET = "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
DATE_PATTERN = f"^{_DATE}$"
INSTANT_PATTERN = f"^{_DATE}{_TIME}{_OFFSET}$"
DATE_OR_INSTANT_PATTERN = f"^{_DATE}({_TIME}{_OFFSET})?$"
CURRENCY_PATTERN = "^[A-Z]{3}$"

_BAD_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]").search
_BAD_PROSE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]").search
_MONEY = re.compile(MONEY_PATTERN).match
_DATE_MATCH = re.compile(DATE_PATTERN).match
_INSTANT = re.compile(INSTANT_PATTERN).match
_DATE_OR_INSTANT = re.compile(DATE_OR_INSTANT_PATTERN).match
_CURRENCY = re.compile(CURRENCY_PATTERN).match
_PLACES = Decimal(1).scaleb(-MONEY_PLACES)
# For hot paths that inline the checks below: a control character or lone surrogate
# (None: the string is clean), and a decimal amount as this contract writes one.
BAD_CHARACTER_SEARCH: Callable[[str], re.Match[str] | None] = _BAD_CHARACTER
MONEY_MATCH: Callable[[str], re.Match[str] | None] = _MONEY
# Amount strings already checked, with their Decimals (Decimals are immutable, so one
# may serve every request that sends the same text): prices repeat across orders, and
# a dict lookup costs a fraction of the pattern match and the conversion.
_AMOUNTS: dict[str, Decimal] = {}
_AMOUNTS_KEPT = 20_000  # about 4 MB when full
_DATES: dict[str, date] = {}  # the same for dates (birthdays)


def kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def text(value: Any, most: int = NAME_CHARS, least: int = 1) -> str:
    """A string of ``least``..``most`` characters without control characters or lone
    surrogates."""
    if type(value) is not str:
        raise Invalid(f"expected a string, got {kind(value)}")
    if len(value) < least:
        raise Invalid("must not be empty")
    if len(value) > most:
        raise Invalid(f"at most {most} characters, got {len(value)}")
    return _clean(value, _BAD_CHARACTER)


def is_text(value: Any, most: int = NAME_CHARS) -> bool:
    """Whether `text(value, most)` accepts `value` (without building a message)."""
    return type(value) is str and 0 < len(value) <= most and _BAD_CHARACTER(value) is None


def prose(value: Any, most: int) -> str:
    """Free text (a note, a reason, a YAML source): tabs and line breaks are fine, other
    control characters and lone surrogates are not."""
    if type(value) is not str:
        raise Invalid(f"expected a string, got {kind(value)}")
    if len(value) > most:
        raise Invalid(f"at most {most} characters, got {len(value)}")
    return _clean(value, _BAD_PROSE)


def _clean(value: str, search: Any) -> str:
    bad = search(value)
    if bad is not None:
        found = bad.group()
        what = "a lone surrogate" if found >= "\ud800" else "a control character"
        raise Invalid(f"contains {what} (U+{ord(found):04X}) at character {bad.start() + 1}")
    return value


def identifier(value: Any) -> str:
    return text(value, ID_CHARS)


def key(value: Any) -> str:
    """An attribute or context name, or a member.state map key."""
    return text(value, KEY_CHARS)


def _decimal_of(value: Any) -> Decimal:
    """The decimal a JSON number stands for (a float by its shortest repr, as JSON
    readers print it back)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise Invalid(f"expected a number, got {kind(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid("must be a finite number")
        return Decimal(repr(value))
    if isinstance(value, Decimal) and not value.is_finite():
        raise Invalid("must be a finite number")
    return Decimal(value)


def _places(amount: Decimal, shown: Any) -> None:
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_PLACES and amount != amount.quantize(
            _PLACES, rounding=ROUND_DOWN):
        raise Invalid(f"at most {MONEY_PLACES} decimal places, got {shown}")


def amount_text(value: str) -> Decimal | None:
    """The amount a string stands for as `money` accepts it (digits, at most 9 before
    the point and 4 after), or None when `money` would refuse it."""
    found = _AMOUNTS.get(value)
    if found is None and _MONEY(value):
        if len(_AMOUNTS) >= _AMOUNTS_KEPT:
            _AMOUNTS.clear()
        found = _AMOUNTS[value] = Decimal(value)
    return found


def money(value: Any) -> Decimal:
    """An amount: a decimal string (digits, at most 9 before the point and 4 after) or a
    JSON number, 0 ≤ x < 1,000,000,000, at most 4 decimal places."""
    if type(value) is str:
        found = amount_text(value)
        if found is not None:
            return found
        if _BAD_CHARACTER(value) is None and len(value) <= 40:
            raise Invalid(f"not a decimal amount such as \"19.99\" (at most 9 digits before "
                             f"the point and {MONEY_PLACES} after): {value!r}")
        raise Invalid("not a decimal amount such as \"19.99\"")
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise Invalid(f"expected an amount such as \"19.99\", got {kind(value)}")
    amount = _decimal_of(value)
    if amount < 0:
        raise Invalid(f"must not be negative, got {value}")
    if amount >= MONEY_LIMIT:
        raise Invalid(f"must be below {MONEY_LIMIT:,}, got {value}")
    _places(amount, value)
    return amount


def whole(value: Any, least: int, most: int) -> int:
    """An integer from ``least`` to ``most``; a JSON number without fraction (2.0) counts."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise Invalid(f"expected an integer, got {kind(value)}")
    if not isinstance(value, int):
        exact = _decimal_of(value)
        if exact != exact.to_integral_value():
            raise Invalid(f"expected an integer, got {value}")
        value = int(exact)
    if value < least:
        raise Invalid(f"must be at least {least}, got {value}")
    if value > most:
        raise Invalid(f"must be at most {most:,}, got {value}")
    return value


def number(value: Any) -> int | float | Decimal:
    """A number in a member attribute or the context: -10^11 < x < 10^11, at most 4
    decimal places. Returned as given (an int stays an int, a float a float)."""
    exact = _decimal_of(value)
    if not -NUMBER_LIMIT < exact < NUMBER_LIMIT:
        raise Invalid(f"must be between -{NUMBER_LIMIT:,} and {NUMBER_LIMIT:,} "
                         f"(exclusive), got {value}; send larger values as strings")
    _places(exact, value)
    return value  # type: ignore[no-any-return]


def flag(value: Any) -> bool:
    if type(value) is not bool:
        raise Invalid(f"expected true or false, got {kind(value)}")
    return value


def instant(value: Any) -> datetime:
    """An ISO 8601 instant with a UTC offset (``2026-11-17T14:30:00-05:00``)."""
    if type(value) is not str:
        raise Invalid(f"expected an instant such as \"2026-11-17T14:30:00-05:00\", "
                         f"got {kind(value)}")
    if not _INSTANT(value):
        raise Invalid("not an instant with a UTC offset such as "
                         f"\"2026-11-17T14:30:00-05:00\" (years 1900-2999): {_short(value)}")
    return datetime.fromisoformat(value)


def calendar_date(value: Any) -> date:
    """A real date written YYYY-MM-DD (years 1900-2999)."""
    found = _DATES.get(value) if type(value) is str else None
    if found is not None:
        return found
    if type(value) is not str or not _DATE_MATCH(value):
        raise Invalid(f"not a date written YYYY-MM-DD (years 1900-2999): {_short(value)}")
    if len(_DATES) >= _AMOUNTS_KEPT:
        _DATES.clear()
    found = _DATES[value] = date.fromisoformat(value)
    return found


def date_or_instant(value: Any) -> str:
    if type(value) is not str or not _DATE_OR_INSTANT(value):
        raise Invalid("not a date (YYYY-MM-DD) or an instant with a UTC offset: "
                         f"{_short(value)}")
    return value


def currency(value: Any) -> str:
    if type(value) is not str or not _CURRENCY(value):
        raise Invalid(f"not an ISO 4217 currency code such as \"USD\": {_short(value)}")
    return value


def free_value(value: Any, lists: bool) -> Any:
    """A member attribute (``lists``: may be a list of strings) or context value: null,
    true/false, text of at most 200 characters, or a bounded number."""
    if value is None or type(value) is bool:
        return value
    if type(value) is str:
        return text(value, NAME_CHARS, least=0)
    if isinstance(value, (int, float, Decimal)):
        return number(value)
    if lists and isinstance(value, list):
        return strings(value, least=0)
    allowed = "null, true/false, a string, a number" + (" or a list of strings" if lists else "")
    raise Invalid(f"expected {allowed}, got {kind(value)}")


def strings(value: Any, least: int = 1) -> list[str]:
    """A list of at most 100 strings of ``least``..200 characters."""
    if not isinstance(value, list):
        raise Invalid(f"expected a list of strings, got {kind(value)}")
    if len(value) > MAX_LIST:
        raise Invalid(f"at most {MAX_LIST} items, got {len(value)}")
    for i, item in enumerate(value):
        try:
            text(item, NAME_CHARS, least)
        except ValueError as exc:
            raise Invalid(f"item {i}: {exc}") from None
    return value


MAX_CODES = 20  # coupon codes one request may present
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{2,63}$"
_CODE = re.compile(CODE_PATTERN)


def code(value: Any) -> str:
    """A coupon or referral code: 3–64 letters, digits and hyphens (not first), read
    upper-case."""
    if type(value) is not str:
        raise Invalid(f"expected a string, got {kind(value)}")
    if _CODE.fullmatch(value) is None:
        raise Invalid(f"{_short(value)} is not a code (3 to 64 letters, digits and hyphens)")
    return value.upper()


def codes(value: Any) -> list[str]:
    """The coupon codes a request presents: at most 20; a code given again (in either
    case) counts once."""
    if not isinstance(value, list):
        raise Invalid(f"expected a list of codes, got {kind(value)}")
    if len(value) > MAX_CODES:
        raise Invalid(f"at most {MAX_CODES} codes, got {len(value)}")
    out: list[str] = []
    for i, item in enumerate(value):
        try:
            found = code(item)
        except ValueError as exc:
            raise Invalid(f"item {i}: {exc}") from None
        if found not in out:
            out.append(found)
    return out


def code_map(value: Any) -> dict[str, str]:
    """member.state.codes: valid code → its campaign id."""
    if not isinstance(value, dict):
        raise Invalid(f"expected an object, got {kind(value)}")
    if len(value) > MAX_CODES:
        raise Invalid(f"at most {MAX_CODES} codes, got {len(value)}")
    out = {}
    for name, campaign in value.items():
        try:
            out[code(name)] = text(campaign, ID_CHARS)
        except ValueError as exc:
            raise Invalid(f"code {_short(name)}: {exc}") from None
    return out


def unknown_field(name: str, known: Collection[str]) -> str:
    """The message for a key the contract does not know, with a did-you-mean."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else \
        f"; expected one of: {', '.join(sorted(known))}"
    return "unknown field" + hint


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."

