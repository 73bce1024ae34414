"""Fixtures of the B2B portal's API tests: the b2b-portal program against a points API on
loopback, two companies (ACME, enterprise; GLOBEX, standard) and a manager of each role
at ACME, each with a personal key."""

from __future__ import annotations

import pytest

from store.external import accounts as external_accounts
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi
from tests.store.b2b_helpers import make_company, make_manager, publish_b2b

BASE = "/v1/programs/b2b-portal"
ROLES = ("viewer", "requester", "approver", "company_admin")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def points(monkeypatch):
    """The points API on loopback (modules may define their own `points`)."""
    api = PointsApi({"ACC-ACME": 200_000, "ACC-GLOBEX": 5_000})
    with LoopbackServer(api) as server:
        server.points = api
        monkeypatch.setenv("LOYALTY_POINTS_API_URLS", f'{{"loyalty-points-api": "{server.url}"}}')
        monkeypatch.setenv("LOYALTY_POINTS_API_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("LOYALTY_POINTS_API_BACKOFF_SECONDS", "0.01")
        monkeypatch.setenv("LOYALTY_POINTS_API_ATTEMPTS", "2")
        external_accounts.reset_clients()
        yield server
        external_accounts.reset_clients()


@pytest.fixture
def companies(db, points):
    """{role: ACME manager's key} plus "globex": a company_admin of GLOBEX."""
    publish_b2b(db)
    make_company(db, "ACME", "ACC-ACME", tier="enterprise", threshold=100_000)
    make_company(db, "GLOBEX", "ACC-GLOBEX", tier="standard")
    keys = {role: make_manager(db, "ACME", role.replace("_", "-"), role) for role in ROLES}
    keys["globex"] = make_manager(db, "GLOBEX", "gina", "company_admin")
    return keys
