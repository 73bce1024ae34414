"""b2b-portal in the three-way test: its balances live in an external points API — here
the loopback fake (tests/points_api.py) with every company's account (its
`loyalty_account_id`, as `loyalty generate` writes it) open at 0 and allowed below zero
for what the ledger debits (refund_policy clawback: the account decides).

What holds once the history is in and the job has sent what is owed: every member's
summary owes nothing (`account.points_owed` 0); the account's balance is the simulated
balance, account by account; the journal (`account.journal_balance`, the platform's
ledger: earned and refunded points) is what the ledger's transfers moved on the account,
the rest of its balance being the redemptions debited there less what cancels, released
holds and refunds credited back; and the API applied exactly the transfers and debits the
store says it made, each once.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from sqlalchemy import func, select

from store.db.database import Database
from store.external.accounts import reset_clients
from store.tables.operations import ExternalDebitRow, ExternalTransferRow
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi

EXTERNAL = {"b2b-portal": ("loyalty-points-api", "loyalty_account_id")}


def accounts_of(history: Path, attribute: str) -> dict[str, str]:
    """member → the account its enrolment names."""
    out = {}
    for line in history.open():
        event = json.loads(line)
        account = (event.get("attributes") or {}).get(attribute)
        if event["type"] == "enroll" and account:
            out[event["member_id"]] = account
    return out


@contextmanager
def points_api(program: str, history: Path) -> Iterator[tuple[PointsApi, dict[str, str]] | None]:
    """For an external-account program: the fake API and the settings pointing the
    platform at it (set in this process as well); None for other programs."""
    if program not in EXTERNAL:
        yield None
        return
    service, attribute = EXTERNAL[program]
    api = PointsApi(dict.fromkeys(accounts_of(history, attribute).values(), 0), overdraft=True)
    with LoopbackServer(api) as server:
        env = {"LOYALTY_POINTS_API_URLS": json.dumps({service: server.url}),
               "LOYALTY_POINTS_API_TIMEOUT_SECONDS": "10",
               "LOYALTY_POINTS_API_BACKOFF_SECONDS": "0.01"}
        with patch.dict(os.environ, env):
            reset_clients()
            try:
                yield api, env
            finally:
                reset_clients()


def redeemed(db: Database, program: str) -> int:
    """Points the external accounts paid for redemptions, less what came back to them."""
    with db.reading() as session:
        debited = session.scalar(select(func.sum(ExternalDebitRow.points)).where(
            ExternalDebitRow.program == program, ExternalDebitRow.status == "committed"))
        back = session.scalar(select(func.sum(ExternalTransferRow.points)).where(
            ExternalTransferRow.program == program,
            ExternalTransferRow.redemption_pk.is_not(None),
            ExternalTransferRow.direction == "credit"))
    return int(debited or 0) - int(back or 0)


def applied_once(db: Database, program: str, api: PointsApi) -> list[str]:
    """What the API applied against what the store made: every transfer done and every
    debit committed, once each, and nothing else (an empty list when they agree)."""
    with db.reading() as session:
        transfers = Counter(session.execute(select(
            ExternalTransferRow.status, ExternalTransferRow.idempotency_key).where(
            ExternalTransferRow.program == program)).all())
        debits = Counter(session.execute(select(
            ExternalDebitRow.status, ExternalDebitRow.idempotency_key).where(
            ExternalDebitRow.program == program)).all())
    out = [f"transfer {key}: {status}" for status, key in transfers if status != "done"]
    out += [f"debit {key}: {status}" for status, key in debits if status != "committed"]
    made = Counter(key for _, key in transfers) + Counter(key for _, key in debits)
    applied = Counter(key for _, key, _ in api.log)
    out += [f"{key}: made {made[key]}, applied {applied[key]}"
            for key in sorted(made.keys() | applied.keys()) if made[key] != applied[key]]
    return out


def account_differences(simulated: dict[str, dict[str, Any]],
                        summaries: dict[str, dict[str, Any]], api: PointsApi) -> list[str]:
    """Per member: nothing owed, the journal is what the ledger's transfers moved, the
    account's balance is the simulated one (an empty list when they agree)."""
    moved: Counter[str] = Counter()
    for kind, key, points in api.log:
        if key.startswith("ledger:"):
            moved[api.account_of[key]] += points if kind == "credit" else -points
    out = []
    for member, summary in sorted(summaries.items()):
        account = summary["account"]
        name = account["account"]
        if account["points_owed"] != 0:
            out.append(f"{member}: owes {account['points_owed']}")
        if account["journal_balance"] != moved[name]:
            out.append(f"{member}: journal {account['journal_balance']}, the ledger's "
                       f"transfers moved {moved[name]}")
        if api.balances[name] != simulated[member]["balance"]:
            out.append(f"{member}: account {name} holds {api.balances[name]}, simulated "
                       f"{simulated[member]['balance']}")
    if sum(api.balances.values()) != sum(m["balance"] for m in simulated.values()):
        out.append("the accounts' balances do not add up to the simulated ones")
    return out
