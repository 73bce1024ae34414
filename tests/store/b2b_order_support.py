"""Factories for the tests of companies' orders: the external points API on loopback
(tests/points_api.py) with the settings pointing at it, and order requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from store.external import accounts as external_accounts
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi


@contextmanager
def points_api(monkeypatch: pytest.MonkeyPatch, balances: dict[str, int]
               ) -> Iterator[LoopbackServer]:
    """The points API on loopback; `server.points` is its state (balances, log)."""
    api = PointsApi(balances)
    with LoopbackServer(api) as server:
        server.points = api  # type: ignore[attr-defined]
        monkeypatch.setenv("LOYALTY_POINTS_API_URLS",
                           f'{{"loyalty-points-api": "{server.url}"}}')
        monkeypatch.setenv("LOYALTY_POINTS_API_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("LOYALTY_POINTS_API_BACKOFF_SECONDS", "0.01")
        monkeypatch.setenv("LOYALTY_POINTS_API_ATTEMPTS", "2")
        monkeypatch.setenv("LOYALTY_POINTS_API_BREAKER_THRESHOLD", "50")
        monkeypatch.setenv("LOYALTY_POINTS_API_RECONCILE_AFTER_SECONDS", "0")
        monkeypatch.setenv("LOYALTY_POINTS_API_TRANSFER_BACKOFF_SECONDS", "0")
        external_accounts.reset_clients()
        try:
            yield server
        finally:
            external_accounts.reset_clients()


def refuse_debits(server: LoopbackServer) -> None:
    """From now on the API refuses every debit (as when the balance went elsewhere)."""
    api = server.points  # type: ignore[attr-defined]

    def handle(request: Any) -> tuple[int, Any]:
        if request.path == "/debit":
            return 422, {"error": "insufficient points"}
        return api(request)

    server.handle = handle


def items(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"reward_id": reward, "quantity": quantity} for reward, quantity in pairs]


def debits(server: LoopbackServer) -> list[tuple[str, str, int]]:
    return [e for e in server.points.log if e[0] == "debit"]  # type: ignore[attr-defined]


def credits(server: LoopbackServer) -> list[tuple[str, str, int]]:
    return [e for e in server.points.log if e[0] == "credit"]  # type: ignore[attr-defined]
