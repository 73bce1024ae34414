"""A small external loyalty points API for tests, served by tests/loopback.py: balances,
and debits/credits made idempotent by their Idempotency-Key, refusing a debit the
balance cannot pay (as a real one does) — unless it lets accounts overdraw for what the
platform's ledger sends (`overdraft=True`)."""

from __future__ import annotations

import threading

from tests.loopback import Request


class PointsApi:
    """The external loyalty points API: balances, and debits/credits made idempotent by
    their Idempotency-Key (a repeat gets the first answer and changes nothing).

    `overdraft`: a debit the platform's ledger sends (a refund taking back earned points,
    key `ledger:<entry>`) may take the balance below zero — the account, not the
    platform, decides that under refund_policy clawback; a redemption's debit is still
    refused when the balance cannot pay it."""

    def __init__(self, balances: dict[str, int], overdraft: bool = False) -> None:
        self.balances = dict(balances)
        self.overdraft = overdraft
        self.applied: dict[str, tuple[int, dict]] = {}
        self.log: list[tuple[str, str, int]] = []  # (kind, key, points) actually applied
        self.account_of: dict[str, str] = {}  # key applied → its account
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> tuple[int, dict]:
        if request.method == "GET" and request.path.startswith("/balance/"):
            account = request.path.rsplit("/", 1)[1]
            if account not in self.balances:
                return 404, {"error": "unknown account"}
            return 200, {"account": account, "balance": self.balances[account]}
        key = request.headers.get("idempotency-key")
        if key is None:
            return 400, {"error": "Idempotency-Key required"}
        kind = request.path.strip("/")
        with self.lock:
            if key in self.applied:
                return self.applied[key]
            account, points = request.body["account"], int(request.body["points"])
            if account not in self.balances:
                return 404, {"error": "unknown account"}  # not remembered: may be created
            overdraws = self.overdraft and key.startswith("ledger:")
            if kind == "debit" and self.balances.get(account, 0) < points and not overdraws:
                answer = (422, {"error": "insufficient points"})
            else:
                self.balances[account] += -points if kind == "debit" else points
                self.log.append((kind, key, points))
                self.account_of[key] = account
                answer = (200, {"transaction_id": f"T-{len(self.log)}",
                                "balance": self.balances[account]})
            self.applied[key] = answer
            return answer
