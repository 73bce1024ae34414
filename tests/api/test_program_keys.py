"""A key created with `--program P` sees and changes program P only: every route that
names another program — in the path or in `?program=` — answers 403 `forbidden_program`,
and the routes that list programs show P alone."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import make_key
from tests.api.test_auto_redemption import publish_card
from tests.store.helpers import retail_version

RS = "/v1/rulesets"


def bearer(db, *scopes, program="card-rewards"):
    return {"Authorization": f"Bearer {make_key(db, *scopes, program=program)}"}


@pytest.fixture
def both(db):
    publish_card(db)  # retail is published by the app fixture


def program_routes(app):
    """(method, path) of every route with a {program} parameter (from the OpenAPI
    document, which lists them all), for program retail — but the B2B portal's manager
    routes, which take a manager's credential, not a program key (their isolation:
    tests/api/test_b2b_portal.py)."""
    for template, operations in app.openapi()["paths"].items():
        if "{program}" in template and \
                not template.startswith("/v1/programs/{program}/companies/"):
            path = re.sub(r"\{[^}]+\}", "1", template.replace("{program}", "retail"))
            for method in sorted(operations):
                yield method.upper(), path


def test_every_program_route_refuses_another_program(client, app, db, both):
    key = bearer(db, "admin")
    routes = list(program_routes(app))
    assert len(routes) >= 23  # checkout, members, redemptions, admin, fulfilment, rulesets
    for method, path in routes:
        r = client.request(method, path, headers=key)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["code"] == "forbidden_program", (method, path, r.text)
        if not path.endswith("/external-points/run"):  # runs for every program: refused
            own = client.request(method, path.replace("/retail", "/card-rewards"), headers=key)
            assert own.status_code != 403, (method, path, own.text)


def test_listing_shows_only_the_keys_program(client, db, both):
    key = bearer(db, "evaluate")
    listing = client.get(RS, headers=key)
    assert listing.status_code == 200
    assert [p["program"] for p in listing.json()["programs"]] == ["card-rewards"]
    other = client.get(RS, headers=key, params={"program": "retail"})
    assert other.status_code == 403 and other.json()["code"] == "forbidden_program"
    own = client.get(RS, headers=key, params={"program": "card-rewards"})
    assert [p["program"] for p in own.json()["programs"]] == ["card-rewards"]
    unbound = {"Authorization": f"Bearer {make_key(db, 'evaluate')}"}
    everything = client.get(RS, headers=unbound).json()["programs"]
    assert sorted(p["program"] for p in everything) == ["card-rewards", "retail"]


def test_a_bound_admin_key_publishes_only_its_program(client, db, both):
    key = bearer(db, "admin")
    r = client.post(RS, headers=key, json={"sources": retail_version(2), "activate": "now"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden_program", r.text
    admin = {"Authorization": f"Bearer {make_key(db, 'admin')}"}
    assert [v["version"] for v in client.get(f"{RS}/retail", headers=admin).json()["versions"]] \
        == [1]  # nothing stored
    run = client.post("/v1/programs/card-rewards/admin/external-points/run", headers=key)
    assert run.status_code == 403 and run.json()["code"] == "forbidden_program"
    assert client.post("/v1/programs/card-rewards/admin/external-points/run",
                       headers=admin).status_code == 200
