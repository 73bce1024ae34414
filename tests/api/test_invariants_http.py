"""Publishing and activation refuse a version whose declared invariant fails: problem+json
naming the invariant, over HTTP."""

from __future__ import annotations

from engine import load_program
from store.registry import versions as registry
from tests.engine.test_verify import INVARIANTS, PLANTED
from tests.store.helpers import retail_version

RS = "/v1/rulesets"


def planted(version: int) -> dict[str, str]:
    sources = retail_version(version)
    sources["campaigns.yaml"] += PLANTED
    sources["invariants.yaml"] = INVARIANTS
    return sources


def test_publish_refuses_a_failing_invariant_at_the_invariant(client, admin_key):
    refused = client.post(RS, json={"sources": planted(2)}, headers=admin_key)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["code"] == "invalid_ruleset" and body["pointer"] == "/sources"
    assert [(e["file"], e["line"], e["path"]) for e in body["errors"]] == [
        ("invariants.yaml", 2, "$.invariants.max_points_per_unit"),
        ("invariants.yaml", 4, "$.invariants.max_value_back")]
    assert "reaches 12, above the limit 8" in body["errors"][0]["message"]
    assert client.get(f"{RS}/retail/2", headers=admin_key).status_code == 404
    holding = retail_version(2)
    holding["invariants.yaml"] = INVARIANTS
    assert client.post(RS, json={"sources": holding}, headers=admin_key).status_code == 201


def test_activation_refuses_a_stored_version_whose_invariant_fails(client, admin_key, db):
    # stored without the check (as by a version of the platform before it existed)
    with db.writing() as session:
        registry.publish(session, load_program(planted(3)), "tests", "v3")
    refused = client.post(f"{RS}/retail/3/activate", headers=admin_key)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["code"] == "invariant_fails"
    assert body["pointer"] == "/sources/invariants.yaml"
    assert body["errors"][0]["path"] == "$.invariants.max_points_per_unit"
    plan = client.post(f"{RS}/retail/3/activate", json={"dry_run": True}, headers=admin_key)
    assert plan.status_code == 200, plan.text
    assert plan.json()["refusal"]["code"] == "invariant_fails"
