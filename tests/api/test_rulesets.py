from tests.engine.test_loader import alias_bomb_by_size
from tests.store.helpers import order, retail_version

RS = "/v1/rulesets"


def test_publish_idempotent_conflict_and_invalid(client, admin_key):
    v2 = retail_version(2, ("electronics: 2.0", "electronics: 3.0"))
    created = client.post(RS, json={"sources": v2, "message": "electronics x3"}, headers=admin_key)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 2 and created.json()["author"].startswith("key:lrk_")
    again = client.post(RS, json={"sources": v2}, headers=admin_key)
    assert again.status_code == 200 and again.json()["digest"] == created.json()["digest"]
    other = retail_version(2, ("electronics: 2.0", "electronics: 4.0"))
    clash = client.post(RS, json={"sources": other}, headers=admin_key)
    assert clash.status_code == 409 and clash.json()["code"] == "version_exists"
    broken = retail_version(3, ("base_rate: \"1\"", "base_rate: lots"))
    bad = client.post(RS, json={"sources": broken}, headers=admin_key)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_ruleset"
    err = bad.json()["errors"][0]
    assert {"file", "line", "col", "path", "message", "text"} <= set(err)
    assert err["file"] == "earning.yaml" and err["text"].startswith("earning.yaml:")


def test_activate_rollback_and_evaluation_follows(client, admin_key, checkout_key,
                                                  server_clock):
    v2 = retail_version(2, ("electronics: 2.0", "electronics: 3.0"))
    client.post(RS, json={"sources": v2}, headers=admin_key)
    # Activations "now" take effect at the server clock; quote just after them.
    server_clock.set("2029-01-01T00:00:00Z")
    quote = lambda: client.post("/v1/programs/retail/evaluate", json=order(  # noqa: E731
        "O-1", placed_at="2029-01-01T00:01:00Z"), headers=checkout_key).json()
    assert quote()["ruleset_version"] == 1
    act = client.post(f"{RS}/retail/2/activate", headers=admin_key)
    assert act.status_code == 200, act.text
    assert quote()["ruleset_version"] == 2 and quote()["earn"]["points"] == 300
    client.post(f"{RS}/retail/1/activate", json={"at": "now"}, headers=admin_key)
    assert quote()["ruleset_version"] == 1
    listing = client.get(RS, headers=checkout_key).json()["programs"][0]
    assert listing["live_version"] == 1 and [v["version"] for v in listing["versions"]] == [1, 2]
    scheduled = client.post(f"{RS}/retail/2/activate", headers=admin_key,
                            json={"effective_from": "2031-01-01T00:00:00Z"})
    assert scheduled.status_code == 200
    assert client.get(f"{RS}/retail", headers=checkout_key).json()["scheduled"][0]["version"] == 2


def test_diff_json_and_text(client, admin_key, checkout_key):
    client.post(RS, json={"sources": retail_version(2, ("electronics: 2.0", "electronics: 3.0"))},
                headers=admin_key)
    body = client.get(f"{RS}/retail/diff", params={"from": 1, "to": 2}, headers=checkout_key).json()
    assert body["changed"] == [{"rule": "earning.categories.electronics",
                                "changes": [{"field": "value", "old": "2", "new": "3"}]}]
    text = client.get(f"{RS}/retail/diff", params={"from": 1, "to": 2, "format": "text"},
                      headers=checkout_key)
    assert "~ earning.categories.electronics: value 2 → 3" in text.text
    missing = client.get(f"{RS}/retail/diff", params={"from": 1, "to": 9}, headers=checkout_key)
    assert missing.status_code == 404


def test_show_version_with_sources(client, checkout_key):
    body = client.get(f"{RS}/retail/1", headers=checkout_key).json()
    assert "program.yaml" in body["sources"] and body["activations"]
    assert client.get(f"{RS}/nope/1", headers=checkout_key).status_code == 404


def test_an_alias_bomb_by_size_is_refused_with_422(client, admin_key):
    sources = {**retail_version(2), "bomb.yaml": alias_bomb_by_size().replace(
        "program: x\nversion: 1\n", "")}
    refused = client.post(RS, json={"sources": sources}, headers=admin_key)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["code"] == "invalid_ruleset" and body["pointer"] == "/sources"
    assert [e["text"].split(": ", 1)[0] for e in body["errors"]] == ["bomb.yaml:1:600030"]
    assert "aliases expand to more than" in body["errors"][0]["message"]
