"""History lines are decoded with orjson where it answers as json does (engine/simulation/
history.py `_loads`): generated JSON texts, integers past 64 bits included, must decode to
the same values of the same types, and texts json refuses must be refused alike."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.simulation.history import _loads, decode_line

SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**200), max_value=2**200)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@settings(max_examples=400)
@given(VALUES, st.booleans())
def test_decoded_values_are_jsons(value, as_bytes):
    text = json.dumps(value)
    assert same(_loads(text.encode() if as_bytes else text), json.loads(text))


def test_what_orjson_reads_otherwise_is_jsons():
    for text in ('{"n": 18446744073709551616}', '[1e400, -0]', '{"a": NaN}', '"\\ud800"',
                 '{"a": 1, "a": 2}', "[" * 2000 + "]" * 2000):
        try:
            expected = json.loads(text)
        except (ValueError, RecursionError) as exc:
            try:
                _loads(text)
            except type(exc):
                continue
            raise AssertionError(f"{text[:40]!r}: json refuses it, _loads did not") from None
        assert same(_loads(text), expected), text[:40]


def test_a_long_integer_in_an_event_is_judged_as_json_reads_it():
    line = ('{"type": "enroll", "member_id": "M1", "at": "2026-01-01T00:00:00Z", '
            '"attributes": {"visits": 123456789012345678901234}}')
    error = decode_line(1, line, None)
    assert "got 123456789012345678901234" in error.message  # the integer, not a float
