"""What an id the store keeps looks like: 1 to 128 characters, no control characters
(PostgreSQL text cannot hold NUL), valid Unicode (no lone surrogates) — the input
contract's identifier (engine/evaluation/contract.py).
The API's `Id` type (api/ids.py) is built from these, so every id it accepts fits the
store's columns; ids that do not come through the API (an external account named by a
member attribute) are checked with `storable`."""

from __future__ import annotations

import engine.evaluation.contract as contract

MAX_LENGTH = contract.ID_CHARS


def storable(value: str) -> bool:
    """Whether `value` is an id the API would accept (engine/evaluation/contract.py)."""
    try:
        contract.identifier(value)
    except contract.Invalid:
        return False
    return True
