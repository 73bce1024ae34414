"""What an id the store keeps looks like: 1 to 128 characters, no control characters
(C0, DEL, C1 — PostgreSQL text cannot hold NUL), valid Unicode (no lone surrogates).
The API's `Id` type (api/ids.py) is built from these, so every id it accepts fits the
store's columns; ids that do not come through the API (an external account named by a
member attribute) are checked with `storable`."""

from __future__ import annotations

import re

MAX_LENGTH = 128
PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
_MATCH = re.compile(PATTERN)


def storable(value: str) -> bool:
    if not 0 < len(value) <= MAX_LENGTH or _MATCH.match(value) is None:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
