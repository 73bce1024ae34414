"""The B2B portal's accounts over HTTP (SQLite; PostgreSQL with CI=true): companies and
managers administered by an admin key, a company_admin managing its own managers, roles,
isolation between companies on every manager route, the balance cache, and audit."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from store.settings import Settings
from tests.api.b2b_fixtures import BASE, bearer
from tests.api.conftest import make_key


@pytest.fixture
def admin(db):
    return bearer(make_key(db, "admin"))


def test_admin_creates_updates_deactivates_and_lists_companies(client, companies, admin):
    made = client.post(f"{BASE}/admin/companies", headers=admin, json={
        "company_id": "INITECH", "name": "Initech", "loyalty_account_id": "ACC-INITECH",
        "tier": "business"})
    assert made.status_code == 201, made.text
    assert made.json()["approval_threshold"] is None and made.json()["active"] is True
    again = client.post(f"{BASE}/admin/companies", headers=admin, json={
        "company_id": "INITECH2", "name": "Initech", "loyalty_account_id": "ACC-INITECH",
        "tier": "business"})
    assert (again.status_code, again.json()["code"]) == (409, "account_taken")
    changed = client.patch(f"{BASE}/admin/companies/INITECH", headers=admin,
                           json={"tier": "enterprise", "approval_threshold": 5000})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["tier"], changed.json()["approval_threshold"]) == ("enterprise", 5000)
    cleared = client.patch(f"{BASE}/admin/companies/INITECH", headers=admin,
                           json={"approval_threshold": None})
    assert cleared.json()["approval_threshold"] is None
    assert client.post(f"{BASE}/admin/companies/INITECH/deactivate",
                       headers=admin).json()["active"] is False
    listed = client.get(f"{BASE}/admin/companies", headers=admin, params={"active": "true"})
    assert [c["company_id"] for c in listed.json()["companies"]] == ["ACME", "GLOBEX"]
    audit = client.get("/v1/audit", headers=admin, params={"program": "b2b-portal"}).json()
    actions = [e["action"] for e in audit["entries"]]
    assert {"company.create", "company.update", "company.deactivate", "manager.create",
            "manager_key.issue"} <= set(actions)
    assert all(e["actor"].startswith("key:") for e in audit["entries"]
               if e["action"].startswith("company.") and e["detail"].get("company_id") == "INITECH")


@pytest.mark.parametrize(("body", "pointer"), [
    ({"tier": "gold"}, "/tier"),
    ({"company_id": "X\u0000"}, "/company_id"),
    ({"approval_threshold": -5}, "/approval_threshold"),
    ({"approval_threshold": 2**40}, "/approval_threshold"),
    ({"name": ""}, "/name"),
    ({"extra": 1}, "/extra"),
])
def test_bad_company_input_is_a_422_naming_the_field(client, companies, admin, body, pointer):
    full = {"company_id": "NEW", "name": "New", "loyalty_account_id": "ACC-NEW",
            "tier": "standard", **body}
    r = client.post(f"{BASE}/admin/companies", headers=admin, json=full)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    where = [r.json().get("pointer")] + [e.get("pointer") for e in r.json().get("errors") or []]
    assert pointer in where, r.json()


def test_a_manager_key_is_shown_once_and_revocable(client, companies, admin):
    made = client.post(f"{BASE}/admin/companies/GLOBEX/managers", headers=admin, json={
        "manager_id": "gus", "name": "Gus", "email": "gus@globex.example", "role": "viewer"})
    assert made.status_code == 201, made.text
    issued = client.post(f"{BASE}/admin/companies/GLOBEX/managers/gus/keys", headers=admin,
                         json={"name": "laptop"})
    key, prefix = issued.json()["key"], issued.json()["prefix"]
    assert client.get(f"{BASE}/companies/GLOBEX", headers=bearer(key)).status_code == 200
    listed = client.get(f"{BASE}/admin/companies/GLOBEX/managers/gus/keys", headers=admin)
    assert key not in listed.text and prefix in listed.text
    revoked = client.post(f"{BASE}/admin/companies/GLOBEX/managers/gus/keys/{prefix}/revoke",
                          headers=admin)
    assert revoked.json()["revoked"] is True
    refused = client.get(f"{BASE}/companies/GLOBEX", headers=bearer(key))
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_key")


def test_manager_routes_refuse_program_keys_and_missing_credentials(client, companies, admin):
    assert client.get(f"{BASE}/companies/ACME").json()["code"] == "unauthenticated"
    r = client.get(f"{BASE}/companies/ACME", headers=admin)  # an lrk_ key is no manager
    assert (r.status_code, r.json()["code"]) == (401, "token_issuer")  # none configured
    r = client.get(f"{BASE}/admin/companies", headers=bearer(companies["company_admin"]))
    assert r.status_code == 401  # a manager's key is no admin key


def test_viewer_reads_company_balance_catalog_and_managers(client, companies, points):
    viewer = bearer(companies["viewer"])
    company = client.get(f"{BASE}/companies/ACME", headers=viewer).json()
    assert (company["balance"], company["tier"], company["approval_threshold"]) == \
        (200_000, "enterprise", 100_000)
    globex = client.get(f"{BASE}/companies/GLOBEX", headers=bearer(companies["globex"])).json()
    assert globex["balance"] == 5_000
    catalog = client.get(f"{BASE}/companies/ACME/catalog", headers=viewer).json()
    ids = {i["id"]: i["affordable"] for i in catalog["items"]}
    assert ids["PHYS-STANDING-DESKS"] is False  # enterprise-only, 350000 points > balance
    assert "PHYS-STANDING-DESKS" in ids and "VIRT-TEAM-EVENT" in ids
    standard = client.get(f"{BASE}/companies/GLOBEX/catalog",
                          headers=bearer(companies["globex"])).json()
    assert all(not i["tiers"] or "standard" in i["tiers"] for i in standard["items"])
    assert "PHYS-STANDING-DESKS" not in {i["id"] for i in standard["items"]}
    listed = client.get(f"{BASE}/companies/ACME/managers", headers=viewer).json()
    assert {m["manager_id"] for m in listed["managers"]} == \
        {"viewer", "requester", "approver", "company-admin"}


def test_the_balance_is_read_through_a_short_cache(client, companies, points):
    viewer = bearer(companies["viewer"])
    calls = lambda: sum(1 for r in points.requests if r.path == "/balance/ACC-ACME")  # noqa: E731
    first = client.get(f"{BASE}/companies/ACME", headers=viewer).json()
    second = client.get(f"{BASE}/companies/ACME/catalog", headers=viewer).json()
    assert (first["balance_cached"], second["balance_cached"]) == (False, True)
    assert calls() == 1
    points.points.balances["ACC-ACME"] = 1  # changed behind the cache: shown within its TTL
    assert client.get(f"{BASE}/companies/ACME", headers=viewer).json()["balance"] == 200_000


def test_an_unreadable_balance_is_null_with_the_reason(client, companies, points):
    points.fail(times=2)
    r = client.get(f"{BASE}/companies/ACME", headers=bearer(companies["viewer"]))
    assert r.status_code == 200
    assert r.json()["balance"] is None and "unavailable" in r.json()["balance_unavailable"]


def test_only_a_company_admin_manages_managers(client, companies, admin):
    body = {"manager_id": "newbie", "name": "New", "email": "n@acme.example", "role": "viewer"}
    for role in ("viewer", "requester", "approver"):
        r = client.post(f"{BASE}/companies/ACME/managers", headers=bearer(companies[role]),
                        json=body)
        assert (r.status_code, r.json()["code"]) == (403, "forbidden_role"), role
    boss = bearer(companies["company_admin"])
    assert client.post(f"{BASE}/companies/ACME/managers", headers=boss,
                       json=body).status_code == 201
    promoted = client.patch(f"{BASE}/companies/ACME/managers/newbie", headers=boss,
                            json={"role": "approver"})
    assert promoted.json()["role"] == "approver"
    key = client.post(f"{BASE}/admin/companies/ACME/managers/newbie/keys",
                      headers=admin).json()["key"]
    assert client.get(f"{BASE}/companies/ACME", headers=bearer(key)).status_code == 200
    assert client.post(f"{BASE}/companies/ACME/managers/newbie/deactivate",
                       headers=boss).json()["active"] is False
    assert client.get(f"{BASE}/companies/ACME", headers=bearer(key)).status_code == 401


def test_managers_issue_keys_for_themselves_only(client, companies):
    """A key for someone else would let its holder act as them (approve their own order
    as the approver, say): each manager issues their own; a company_admin lists and
    revokes the others'."""
    requester, boss = bearer(companies["requester"]), bearer(companies["company_admin"])
    own = client.post(f"{BASE}/companies/ACME/managers/requester/keys", headers=requester)
    assert own.status_code == 201, own.text
    assert client.get(f"{BASE}/companies/ACME", headers=bearer(own.json()["key"])).status_code == 200
    for who, whose in ((requester, "viewer"), (boss, "viewer")):
        r = client.post(f"{BASE}/companies/ACME/managers/{whose}/keys", headers=who)
        assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")
    r = client.get(f"{BASE}/companies/ACME/managers/company-admin/keys", headers=requester)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")
    listed = client.get(f"{BASE}/companies/ACME/managers/requester/keys", headers=boss).json()
    assert len(listed["keys"]) == 2
    prefix = own.json()["prefix"]
    revoked = client.post(f"{BASE}/companies/ACME/managers/requester/keys/{prefix}/revoke",
                          headers=boss)
    assert revoked.json()["revoked"] is True
    assert client.get(f"{BASE}/companies/ACME",
                      headers=bearer(own.json()["key"])).status_code == 401


def test_a_deactivated_company_locks_its_managers_out(client, companies, admin):
    client.post(f"{BASE}/admin/companies/ACME/deactivate", headers=admin)
    r = client.get(f"{BASE}/companies/ACME", headers=bearer(companies["company_admin"]))
    assert r.status_code == 401


def _manager_routes(app):
    """Every route a manager reaches: from the OpenAPI document, so a new one is covered."""
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/v1/programs/{program}/companies/{company_id}"):
            for method in operations:
                yield method.upper(), path


def _fill(path, program, company):
    path = path.replace("{program}", program).replace("{company_id}", company)
    path = path.replace("{manager_id}", "gina").replace("{prefix}", "lmk_abcdefgh")
    path = path.replace("{order_number}", "B2B-2026-000001")
    assert not re.search(r"\{\w+\}", path), f"a path parameter to fill: {path}"
    return path


def test_every_manager_route_hides_other_companies(app, client, companies):
    """ACME's company_admin (every role) tries GLOBEX's and an unknown company's ids, and
    another program's, on every manager route: 404 unknown_company, nothing done."""
    routes = list(_manager_routes(app))
    assert len(routes) >= 9, routes
    acme = bearer(companies["company_admin"])
    body = {"manager_id": "intruder", "name": "I", "email": "i@acme.example",
            "role": "viewer", "items": [{"reward_id": "VIRT-GIFT-CARD-100", "quantity": 1}]}
    for method, path in routes:
        for program, company in (("b2b-portal", "GLOBEX"), ("b2b-portal", "NOPE"),
                                 ("retail", "ACME")):
            r = client.request(method, _fill(path, program, company), headers=acme,
                               json=body if method in ("POST", "PATCH", "PUT") else None)
            assert (r.status_code, r.json().get("code")) == (404, "unknown_company"), \
                (method, path, program, company, r.text)
            # the same answer as for a company that does not exist
            assert r.json()["detail"] == f"{program} has no company {company!r}"
    globex = client.get(f"{BASE}/companies/GLOBEX/managers", headers=bearer(companies["globex"]))
    assert [m["manager_id"] for m in globex.json()["managers"]] == ["gina"]
    assert [m["active"] for m in globex.json()["managers"]] == [True]


def test_each_manager_has_a_rate_limit_of_their_own(db, companies):
    settings = Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=False,
                        member_rate_limits={"read": {"rate": 0.001, "burst": 2}})
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        viewer = bearer(companies["viewer"])
        assert [client.get(f"{BASE}/companies/ACME/managers", headers=viewer).status_code
                for _ in range(3)] == [200, 200, 429]
        limited = client.get(f"{BASE}/companies/ACME/managers", headers=viewer)
        assert "account manager 'viewer'" in limited.json()["detail"]
        assert "Retry-After" in limited.headers
        other = bearer(companies["requester"])  # another manager: their own buckets
        assert client.get(f"{BASE}/companies/ACME/managers", headers=other).status_code == 200
