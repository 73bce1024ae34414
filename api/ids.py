"""Ids the API accepts, one type wherever they come from (path, query or body), so that
every id that passes is one the store can hold.

`Id` (members, orders, refunds, activity events, redemption idempotency keys, rewards,
external accounts): as `store/ids.py` says — 1 to 128 characters, no control characters,
no lone surrogates; any other Unicode character, non-BMP included. Every reference the
store composes from ids (`<order>/<refund>` in the ledger, external idempotency keys)
fits its column. `RowId`: a stored row's number (redemptions, transfers, cursors), ASCII
digits only, within PostgreSQL's BIGINT. `Text`: free text kept with a record (a
ruleset message, a cancel reason, an acknowledgement note): no control characters but
tab and line breaks.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from store import ids

# pydantic refuses lone surrogates in any string (`string_unicode`).
Id = Annotated[str, StringConstraints(min_length=1, max_length=ids.MAX_LENGTH,
                                      pattern=ids.PATTERN)]
RowId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}$")]
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
