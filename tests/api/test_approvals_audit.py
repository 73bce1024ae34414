"""Approvals, activation dry runs, publish warnings, the audit log and the viewer scope over
HTTP (in-process app; SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.api.conftest import make_key
from tests.store.helpers import order, retail_version

RS = "/v1/rulesets"


def bearer(db, *scopes: str, program: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(db, *scopes, program=program)}"}


def v2_with_approvals(required: int = 1) -> dict[str, str]:
    sources = retail_version(2, ("electronics: 2.0", "electronics: 3.0"))
    sources["program.yaml"] += f"approvals:\n  required: {required}\n"
    return sources


def test_four_eyes_over_http(client, db, server_clock):
    ana, ben = bearer(db, "admin"), bearer(db, "admin")
    published = client.post(RS, json={"sources": v2_with_approvals()}, headers=ana)
    assert published.status_code == 201, published.text
    body = published.json()
    assert body["created"] is True
    assert [w["code"] for w in body["warnings"]] == ["effective_from_unchanged"]
    assert {"code", "message", "file", "line", "col", "path"} <= set(body["warnings"][0])

    refused = client.post(f"{RS}/retail/2/activate", headers=ana)
    assert refused.status_code == 409 and refused.json()["code"] == "approvals_required"
    assert refused.headers["content-type"] == "application/problem+json"
    own = client.post(f"{RS}/retail/2/approve", json={"message": "mine"}, headers=ana)
    assert own.status_code == 403 and own.json()["code"] == "self_approval"

    approved = client.post(f"{RS}/retail/2/approve", json={"message": "diff read"}, headers=ben)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approvals"]["missing"] == 0
    again = client.post(f"{RS}/retail/2/approve", headers=ben)
    assert again.status_code == 409 and again.json()["code"] == "already_approved"
    shown = client.get(f"{RS}/retail/2", headers=ana).json()
    assert shown["approvals"]["approved_by"][0]["message"] == "diff read"

    live = client.post(f"{RS}/retail/2/activate", headers=ana)
    assert live.status_code == 200 and live.json()["already_live"] is False
    same = client.post(f"{RS}/retail/2/activate", headers=ana)
    assert same.status_code == 200 and same.json()["already_live"] is True
    assert len(client.get(f"{RS}/retail/2", headers=ana).json()["activations"]) == 1


def test_a_dry_run_answers_the_plan_and_writes_nothing(client, db, admin_key, server_clock):
    client.post(RS, json={"sources": v2_with_approvals()}, headers=admin_key)
    audit_before = client.get("/v1/audit", headers=admin_key).json()["entries"]
    plan = client.post(f"{RS}/retail/2/activate", headers=admin_key,
                       json={"dry_run": True, "effective_from": "2029-02-01T00:00:00Z"})
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["dry_run"] and body["effective_from"] == "2029-02-01T00:00:00+00:00"
    assert body["live_version"] == 1 and body["refusal"]["code"] == "approvals_required"
    assert body["diff"]["changed"][0]["rule"] == "earning.categories.electronics"
    assert client.get(f"{RS}/retail/2", headers=admin_key).json()["activations"] == []
    assert client.get("/v1/audit", headers=admin_key).json()["entries"] == audit_before
    missing = client.post(f"{RS}/retail/9/activate", json={"dry_run": True}, headers=admin_key)
    assert missing.status_code == 404


def test_audit_filters_pages_and_scopes(client, db, admin_key, server_clock):
    for version in (2, 3, 4):
        assert client.post(RS, json={"sources": retail_version(version)},
                           headers=admin_key).status_code == 201
    first = client.get("/v1/audit", params={"program": "retail", "limit": 2},
                       headers=admin_key).json()
    assert [e["detail"]["version"] for e in first["entries"]] == [4, 3]
    rest = client.get("/v1/audit", params={"program": "retail", "cursor": first["next_cursor"]},
                      headers=admin_key).json()
    assert [e["action"] for e in rest["entries"]] == ["ruleset.publish", "ruleset.activate",
                                                      "ruleset.publish"]
    assert rest["next_cursor"] is None
    actor = first["entries"][0]["actor"]
    mine = client.get("/v1/audit", params={"actor": actor, "action": "ruleset.publish"},
                      headers=admin_key).json()["entries"]
    assert len(mine) == 3 and all(e["actor"] == actor for e in mine)
    future = client.get("/v1/audit", params={"from": "2099-01-01T00:00:00Z"},
                        headers=admin_key).json()
    assert future["entries"] == []
    past = client.get("/v1/audit", params={"to": "2000-01-01T00:00:00Z"}, headers=admin_key)
    assert past.json()["entries"] == []
    naive = client.get("/v1/audit", params={"from": "2029-01-01T00:00:00"}, headers=admin_key)
    assert naive.status_code == 422 and naive.json()["errors"][0]["parameter"] == "from"
    bad_cursor = client.get("/v1/audit", params={"cursor": "x"}, headers=admin_key)
    assert bad_cursor.status_code == 422
    for scopes in (("viewer",), ("evaluate", "commit")):
        refused = client.get("/v1/audit", headers=bearer(db, *scopes))
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden_scope"
    bound = bearer(db, "admin", program="card-rewards")
    own = client.get("/v1/audit", headers=bound).json()["entries"]  # its own creation only
    assert [(e["action"], e["program"]) for e in own] == [("key.create", "card-rewards")]
    other = client.get("/v1/audit", params={"program": "retail"}, headers=bound)
    assert other.status_code == 403 and other.json()["code"] == "forbidden_program"


def test_a_viewer_reads_the_registry_and_members_but_writes_nothing(client, db, checkout_key,
                                                                    server_clock):
    assert client.post("/v1/programs/retail/orders", json=order("O-1"),
                       headers=checkout_key).status_code == 201
    viewer = bearer(db, "viewer")
    for path, params in ((RS, None), (f"{RS}/retail", None), (f"{RS}/retail/1", None),
                         (f"{RS}/retail/diff", {"from": 1, "to": 1}),
                         ("/v1/programs/retail/members/CUST-1", None),
                         ("/v1/programs/retail/members/CUST-1/ledger", None),
                         ("/v1/programs/retail/catalog", {"member_id": "CUST-1"})):
        assert client.get(path, params=params, headers=viewer).status_code == 200, path
    for path, body in ((RS, {"sources": retail_version(2)}),
                       (f"{RS}/retail/1/activate", {}), (f"{RS}/retail/1/approve", {}),
                       ("/v1/programs/retail/evaluate", order("O-2")),
                       ("/v1/programs/retail/orders", order("O-2")),
                       ("/v1/programs/retail/redemptions",
                        {"member_id": "CUST-1", "points": 10, "idempotency_key": "r-1"}),
                       ("/v1/programs/retail/admin/expire", {})):
        refused = client.post(path, json=body, headers=viewer)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "forbidden_scope"
