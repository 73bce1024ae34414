"""The quote's light route (api/quote_route.py) answers as FastAPI's generic handler of the
same route does. A body sent as `application/json` takes the light route when the engine's
parser accepts it; the same body sent as `application/json; charset=utf-8` always goes
the generic way (models, dependency chain). Each document is sent both ways and the
answers compared: results, problem JSON, statuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.store.helpers import order

BASE = "/v1/programs/retail"
LIGHT = {"Content-Type": "application/json"}
GENERIC = {"Content-Type": "application/json; charset=utf-8"}


def both(client, key: dict[str, str], document: Any, path: str = f"{BASE}/evaluate"):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    light = client.post(path, content=body, headers={**key, **LIGHT})
    generic = client.post(path, content=body, headers={**key, **GENERIC})
    return light, generic


def same(light, generic) -> None:
    assert light.status_code == generic.status_code, (light.text, generic.text)
    assert light.headers["content-type"] == generic.headers["content-type"]
    a, b = light.json(), generic.json()
    for answer in (a, b):  # a problem names the request it answers
        answer.pop("instance", None)
        answer.pop("request_id", None)
    assert a == b


def with_member(document: dict[str, Any], **member: Any) -> dict[str, Any]:
    return {**document, "member": {**document["member"], **member}}


VALID = [
    order("O-1"),
    {**order("O-2", amount="19.9900"), "redeem": {"points": 500}},
    {**order("O-3"), "ruleset_version": 1, "explain": True},
    {**order("O-4"), "redeem": {"reward_id": "nope"}},
    {"member": {"id": "CUST-1"}, "as_of": "2026-11-17T14:30:00-05:00"},
    with_member(order("O-5"), attributes={"birthday": None, "segments": ["vip"]}, tier=None),
    {**order("O-6"), "order": {**order("O-6")["order"], "shipping": 4.99, "channel": None}},
]

INVALID = [
    with_member(order("O-1"), tierr="gold"),  # unknown field
    {**order("O-1"), "order": {**order("O-1")["order"], "shipping": "-1"}},
    {**order("O-1"), "order": {**order("O-1")["order"], "placed_at": "2026-11-17T14:30:00"}},
    {"member": {"id": "CUST-1"}},  # no time
    {**order("O-1"), "ruleset_version": 1.5},
    {**order("O-1"), "context": {"x": [1]}},
    [order("O-1")],
    b'{"member": {"id": "CUST-1"}, ',  # malformed JSON
    b"",
    {**order("O-1", placed_at="2999-01-01T00:00:00Z")},  # ahead of the server clock
    {**order("O-1"), "redeem": {"points": 10, "quantity": 2}},
]


@pytest.mark.parametrize("document", VALID)
def test_a_valid_quote_is_answered_alike(client, checkout_key, server_clock, document):
    light, generic = both(client, checkout_key, document)
    assert light.status_code == 200, light.text
    same(light, generic)


@pytest.mark.parametrize("document", INVALID)
def test_a_refused_quote_is_refused_alike(client, checkout_key, server_clock, document):
    light, generic = both(client, checkout_key, document)
    assert light.status_code in (400, 422), light.text
    same(light, generic)


def test_keys_and_paths_are_checked_alike(client, checkout_key, db, server_clock):
    from tests.api.conftest import make_key

    for key in ({}, {"Authorization": "Bearer nope"},
                {"Authorization": f"Bearer {make_key(db, 'commit')}"},
                {"Authorization": f"Bearer {make_key(db, 'evaluate', program='other')}"}):
        light, generic = both(client, key, order("O-1"))
        assert light.status_code in (401, 403)
        same(light, generic)
    for path in ("/v1/programs/Retail!/evaluate", "/v1/programs/nope/evaluate"):
        light, generic = both(client, checkout_key, order("O-1"), path)
        assert light.status_code in (404, 422)
        same(light, generic)


def test_stored_attributes_fill_gaps_and_a_null_is_left_out(client, checkout_key, server_clock):
    # The member's stored birthday (November) gives the birthday bonus in November; a
    # quote that sends the birthday as null keeps the stored one, both ways.
    r = client.post(f"{BASE}/members", headers=checkout_key, json={
        "event_id": "E-1", "member_id": "CUST-1", "enrolled_at": "2026-02-01T00:00:00Z",
        "attributes": {"birthday": "1990-11-20"}})
    assert r.status_code == 201, r.text
    stored = both(client, checkout_key, order("O-1"))
    nulled = both(client, checkout_key, with_member(order("O-1"), attributes={"birthday": None}))
    for light, generic in (stored, nulled):
        same(light, generic)
    assert stored[0].json() == nulled[0].json()
    other = both(client, checkout_key, with_member(order("O-1"),
                                                   attributes={"birthday": "1990-03-20"}))
    same(*other)
    assert other[0].json() != stored[0].json()  # the stored birthday counted


def evaluations(client, mode: str) -> float:
    """The `loyalty_evaluations_total` counted so far for `mode` (quote, commit)."""
    text = client.get("/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("loyalty_evaluations_total") and f'mode="{mode}"' in line)


def test_quotes_on_the_light_route_are_counted(client, checkout_key, server_clock):
    before = evaluations(client, "quote")
    light, _ = both(client, checkout_key, order("O-1"))
    assert light.status_code == 200
    assert evaluations(client, "quote") == before + 2
