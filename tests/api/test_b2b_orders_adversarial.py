"""Adversarial input for the B2B order, inventory and callback routes: generated from
the OpenAPI document (schemathesis) with path parameters pinned to records that exist —
whatever the body, query or id, no 5xx — and hand-picked bad input that must be a 4xx
problem naming the field. The points API runs on loopback, so placing reaches the
saga."""

from __future__ import annotations

import json
import time

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from store.b2b_orders.callbacks import sign
from store.settings import Settings
from tests.api.conftest import make_key
from tests.store.b2b_helpers import make_company, make_manager, publish_b2b
from tests.store.b2b_order_support import items, points_api

SECRET = "whsec_c2VjcmV0LWZvci10ZXN0cy1vbmx5"
EXAMPLES = 20
MINE = ("/companies/", "/b2b-orders", "/inventory", "/fulfilment/callbacks")


@pytest.fixture
def world(db, monkeypatch):
    with points_api(monkeypatch, {"ACC-ACME": 10**9}):
        publish_b2b(db)
        make_company(db, "ACME", threshold=100_000)
        app = create_app(Settings(database_url=db.url, api_key_cache_seconds=0,
                                  jobs_enabled=False, rate_limits_enabled=False,
                                  fulfilment_callback_secret=SECRET), db)
        manager = {"Authorization": f"Bearer {make_manager(db, 'ACME', 'cat', 'company_admin')}"}
        admin = {"Authorization": f"Bearer {make_key(db, 'admin')}"}
        with TestClient(app, raise_server_exceptions=False) as client:
            placed = client.post("/v1/programs/b2b-portal/companies/ACME/orders",
                                 headers=manager, json={"items": items(("PHYS-LAPTOP-BAG", 1))})
            assert placed.status_code == 201, placed.text
            yield app, client, manager, admin, placed.json()["order_number"]


def test_no_server_errors_on_the_b2b_routes(world):
    app, _, manager, admin, number = world
    pinned = {"program": "b2b-portal", "company_id": "ACME", "order_number": number,
              "reward_id": "PHYS-LAPTOP-BAG", "line": 1}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    mine = [op for op in operations if any(part in op.path for part in MINE)
            and not op.path.startswith("/v1/programs/{program}/fulfilment")]
    assert len(mine) >= 15
    for operation in mine:
        run_generated(operation, manager if "/companies/" in operation.path else admin,
                      pinned)


def run_generated(operation, headers: dict[str, str], pinned: dict) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def exercise(case: schemathesis.Case) -> None:
        for name in case.path_parameters or {}:
            case.path_parameters[name] = pinned.get(name, case.path_parameters[name])
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    exercise()


ORDER_BODIES = [
    ({"items": []}, "/items"),
    ({"items": [{"reward_id": "PHYS-LAPTOP-BAG", "quantity": 0}]}, "/items/0/quantity"),
    ({"items": [{"reward_id": "PHYS-LAPTOP-BAG", "quantity": 10**6}]}, "/items/0/quantity"),
    ({"items": [{"reward_id": "PHYS-LAPTOP-BAG", "quantity": "2"}]}, "/items/0/quantity"),
    ({"items": [{"reward_id": "", "quantity": 1}]}, "/items/0/reward_id"),
    ({"items": [{"reward_id": "a\udfff", "quantity": 1}]}, "/items/0/reward_id"),
    ({"items": [{"reward_id": "PHYS-LAPTOP-BAG", "quantity": 1, "price": 0}]},
     "/items/0/price"),
    ({"items": [{"reward_id": "NO-SUCH", "quantity": 1}]}, None),
    ({"items": items(("PHYS-LAPTOP-BAG", 1), ("PHYS-LAPTOP-BAG", 2))}, "/items/1/reward_id"),
    ({"items": items(*[(f"R-{i}", 1) for i in range(51)])}, "/items"),
]


@pytest.mark.parametrize(("body", "pointer"), ORDER_BODIES)
def test_bad_orders_are_problems_naming_the_field(world, body, pointer):
    _, client, manager, _, _ = world
    answer = client.post("/v1/programs/b2b-portal/companies/ACME/orders", headers={
        **manager, "content-type": "application/json"}, content=json.dumps(body))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    if pointer is not None:
        pointers = [problem.get("pointer")] + [e.get("pointer") for e in
                                               problem.get("errors") or []]
        assert pointer in pointers, problem


GARBAGE = [b"", b"[]", b"{", b'{"order_number": 1}',
           b'{"order_number": "B2B-2026-000001", "line": 0, "status": "delivered"}',
           (b'{"order_number": "B2B-2026-000001", "line": 1, "status": "shipped", '
            b'"carrier": "a\\udfff", "tracking": "x"}')]


@pytest.mark.parametrize("body", GARBAGE)
def test_signed_garbage_is_a_422_never_a_500(world, body):
    _, client, _, _, _ = world
    stamp = int(time.time())
    answer = client.post("/v1/fulfilment/callbacks", content=body, headers={
        "webhook-id": "msg_garbage", "webhook-timestamp": str(stamp),
        "webhook-signature": sign(SECRET, "msg_garbage", stamp, body)})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_callback"


@pytest.mark.parametrize("headers", [
    {}, {"webhook-id": "x", "webhook-timestamp": "abc", "webhook-signature": "v1,AAAA"},
    {"webhook-id": "x" * 500, "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
    {"webhook-id": "x", "webhook-timestamp": "9" * 40, "webhook-signature": "v1,AAAA"},
    {"webhook-id": "x", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,"},
    # its first 12 digits pass the clock check; the whole is past int()'s 4300 digits
    {"webhook-id": "x", "webhook-timestamp": "00" + str(int(time.time())) + "0" * 4400,
     "webhook-signature": "v1,AAAA"}])
def test_unsigned_callbacks_are_401(world, headers):
    _, client, _, _, _ = world
    answer = client.post("/v1/fulfilment/callbacks", content=b"{}", headers=headers)
    assert answer.status_code == 401, answer.text
