"""The one error shape, pinned: every 4xx/5xx is application/problem+json with the same keys."""

import pytest

from tests.store.helpers import order

BASE = "/v1/programs/retail"
REQUIRED = {"type", "title", "status", "detail", "code", "instance"}
ALLOWED = REQUIRED | {"pointer", "errors"}


def assert_problem(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert REQUIRED <= set(body) <= ALLOWED, body
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"/problems/{code}"
    return body


def bad_line(**line):
    req = order("O-1")
    req["order"]["lines"][0].update(line)
    return req


@pytest.mark.parametrize("payload, pointer", [
    (bad_line(unit_price="abc"), "/order/lines/0/unit_price"),
    (bad_line(quantity=0), "/order/lines/0/quantity"),
    (bad_line(unit_price="-1"), "/order/lines/0/unit_price"),
    (bad_line(unit_price="NaN"), "/order/lines/0/unit_price"),
    ({**order("O-1"), "order": {**order("O-1")["order"], "placed_at": "2026-11-17T14:30:00"}},
     "/order/placed_at"),
    ({"order": order("O-1")["order"]}, "/member"),
    ({**order("O-1"), "surprise": 1}, "/surprise"),
    (bad_line(discount="500.00"), "/order/lines/0/discount"),  # engine-side check
])
def test_invalid_requests_point_at_the_field(client, checkout_key, payload, pointer):
    body = assert_problem(client.post(f"{BASE}/evaluate", json=payload, headers=checkout_key),
                          422, "invalid_request")
    assert body["pointer"] == pointer
    assert all("message" in e for e in body["errors"])


def test_malformed_json_is_400(client, checkout_key):
    r = client.post(f"{BASE}/evaluate", content=b"{not json", headers={
        **checkout_key, "content-type": "application/json"})
    assert_problem(r, 400, "malformed_json")


def test_body_too_large_is_413(client, checkout_key):
    huge = bad_line(sku="x" * 100)
    huge["order"]["lines"] = huge["order"]["lines"] * 400 + [{"pad": "y" * 200_000}]
    assert_problem(client.post(f"{BASE}/evaluate", json=huge, headers=checkout_key),
                   413, "body_too_large")


def test_auth_problems(client, evaluate_key):
    assert_problem(client.post(f"{BASE}/evaluate", json=order("O-1")), 401, "unauthenticated")
    r = client.post(f"{BASE}/evaluate", json=order("O-1"),
                    headers={"Authorization": "Bearer lrk_wrong"})
    assert_problem(r, 401, "invalid_key")
    assert r.headers["www-authenticate"] == "Bearer"
    assert_problem(client.post(f"{BASE}/orders", json=order("O-1"), headers=evaluate_key),
                   403, "forbidden_scope")
    assert_problem(client.post("/v1/rulesets", json={"sources": {"a.yaml": "x: 1"}},
                               headers=evaluate_key), 403, "forbidden_scope")


def test_program_bound_key_serves_only_its_program(client, db):
    from tests.api.conftest import make_key

    key = {"Authorization": f"Bearer {make_key(db, 'evaluate', program='card-rewards')}"}
    assert_problem(client.post(f"{BASE}/evaluate", json=order("O-1"), headers=key),
                   403, "forbidden_program")


def test_unknown_route_and_method(client):
    assert_problem(client.get("/v1/nothing-here"), 404, "not_found")
    assert_problem(client.put("/healthz"), 405, "method_not_allowed")


def test_keys_never_reach_the_logs(client, db, caplog):
    from tests.api.conftest import make_key

    secret = make_key(db, "evaluate")
    with caplog.at_level("DEBUG"):
        client.post(f"{BASE}/evaluate", json=bad_line(quantity=0),
                    headers={"Authorization": f"Bearer {secret}"})
        client.post(f"{BASE}/orders", json=order("O-1"), headers={"Authorization": f"Bearer {secret}"})
    assert secret not in caplog.text
