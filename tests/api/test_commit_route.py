"""The commit's light route (api/commit_route.py) answers as FastAPI's generic handler of
the same route does. A body sent as `application/json` takes the light route when the
model accepts it; the same body sent as `application/json; charset=utf-8` always goes the
generic way (dependency chain, standard JSON decoder). A commit is written once, so a
valid document is committed one way and retried the other: the retry must replay the
first commit (same request hash, same result), whichever way came first."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from store.tables.core import OrderRow
from tests.api.test_quote_route import (
    GENERIC,
    INVALID,
    LIGHT,
    evaluations,
    same,
    with_member,
)
from tests.store.helpers import assert_ledger_exact, order

BASE = "/v1/programs/retail"
ORDERS = f"{BASE}/orders"


def post(client, key: dict[str, str], document: Any, headers: dict[str, str],
         path: str = ORDERS):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.post(path, content=body, headers={**key, **headers})


VALID = [
    order("O-1"),
    {**order("O-2", amount="19.9900"), "explain": True},
    {**order("O-3"), "ruleset_version": 1},
    {**order("O-4", member="CUST-2"), "redeem": {"points": 10}},
    with_member(order("O-5"), attributes={"birthday": None, "segments": ["vip"]}, tier=None),
    {**order("O-6"), "order": {**order("O-6")["order"], "shipping": 4.99, "channel": None}},
    {**order("O-7"), "context": {"store": "NYC-5", "first": True}},
]


@pytest.mark.parametrize("first", [LIGHT, GENERIC], ids=["light-first", "generic-first"])
@pytest.mark.parametrize("document", VALID)
def test_a_commit_replays_through_the_other_route(client, checkout_key, server_clock, db,
                                                   document, first):
    second = GENERIC if first is LIGHT else LIGHT
    created = post(client, checkout_key, document, first)
    assert created.status_code == 201, created.text
    replayed = post(client, checkout_key, document, second)
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["idempotent-replay"] == "true"
    assert replayed.json() == created.json()
    assert_ledger_exact(db)


def test_a_commit_written_differently_is_the_same_commit(client, checkout_key, server_clock):
    # The hash is taken over the model's normal form: the order of keys, white space and
    # a default sent explicitly do not change it, whichever way each arrives.
    document = order("O-1")
    created = post(client, checkout_key, document, LIGHT)
    assert created.status_code == 201, created.text
    respelled = json.dumps({"explain": False, "ruleset_version": None,
                            "order": dict(reversed(document["order"].items())),
                            "member": document["member"]}, indent=2).encode()
    for headers in (LIGHT, GENERIC):
        replayed = post(client, checkout_key, respelled, headers)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json() == created.json()
    changed = {**document, "order": {**document["order"], "shipping": "6.00"}}
    for headers in (LIGHT, GENERIC):
        conflict = post(client, checkout_key, changed, headers)
        assert conflict.status_code == 409, conflict.text
        assert conflict.json()["code"] == "order_conflict"


COMMIT_INVALID = [
    *INVALID,
    {"member": {"id": "CUST-1"}, "as_of": "2026-11-17T14:30:00-05:00"},  # no order
    {**order("O-1"), "order": {**order("O-1")["order"], "lines": "x"}},
    b'{"member": {"id": "CUST-1"}, "order": {"id": "O-1", "placed_at": NaN}}',
    b'{"member": {"id": "\\ud800"}}',
]


@pytest.mark.parametrize("document", COMMIT_INVALID)
def test_a_refused_commit_is_refused_alike(client, checkout_key, server_clock, db, document):
    light = post(client, checkout_key, document, LIGHT)
    generic = post(client, checkout_key, document, GENERIC)
    assert light.status_code in (400, 422), light.text
    same(light, generic)
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(OrderRow)) == 0


def test_keys_and_paths_are_checked_alike(client, checkout_key, db, server_clock):
    from tests.api.conftest import make_key

    for i, key in enumerate(({}, {"Authorization": "Bearer nope"},
                             {"Authorization": f"Bearer {make_key(db, 'evaluate')}"},
                             {"Authorization": f"Bearer {make_key(db, 'commit', program='x')}"})):
        light = post(client, key, order(f"O-{i}"), LIGHT)
        generic = post(client, key, order(f"O-{i}"), GENERIC)
        assert light.status_code in (401, 403)
        same(light, generic)
    for path in ("/v1/programs/Retail!/orders", "/v1/programs/nope/orders"):
        light = post(client, checkout_key, order("O-9"), LIGHT, path)
        generic = post(client, checkout_key, order("O-9"), GENERIC, path)
        assert light.status_code in (404, 422)
        same(light, generic)


def test_commits_on_the_light_route_are_counted(client, checkout_key, server_clock):
    before = evaluations(client, "commit")
    assert post(client, checkout_key, order("O-1"), LIGHT).status_code == 201
    assert post(client, checkout_key, order("O-1"), LIGHT).status_code == 200  # a replay
    assert evaluations(client, "commit") == before + 1
