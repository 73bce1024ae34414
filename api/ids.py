"""Ids and free texts the API accepts, one type wherever they come from (path, query or
body), checked by the same functions as the engine's request parser (engine/evaluation/contract.py),
so that every id that passes is one the store can hold.

`Id` (members, orders, refunds, activity events, redemption idempotency keys, rewards,
external accounts): 1 to 128 characters, no control characters, no lone surrogates; any
other Unicode character, non-BMP included. Every reference the store composes from ids
(`<order>/<refund>` in the ledger, external idempotency keys) fits its column. `RowId`: a
stored row's number (redemptions, transfers, cursors), ASCII digits only, within
PostgreSQL's BIGINT. `Text`: free text kept with a record (a ruleset message, a cancel
reason, an acknowledgement note): tabs and line breaks, but no other control character
and no lone surrogate; each field sets its own max_length.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from pydantic import BeforeValidator, Field, StringConstraints

import engine.evaluation.contract as contract

LINE = r"^[^\x00-\x1f\x7f-\x9f]+$"  # what OpenAPI can say; surrogates are refused by the validator
ProseCheck = BeforeValidator(partial(contract.prose, most=10**8))

Id = Annotated[str, BeforeValidator(contract.identifier),
               Field(min_length=1, max_length=contract.ID_CHARS, pattern=LINE)]
RowId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
Text = Annotated[str, ProseCheck]
