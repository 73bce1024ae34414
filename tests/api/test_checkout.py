from tests.store.helpers import order

BASE = "/v1/programs/retail"


def test_quote_worked_example(client, checkout_key):
    # the documented example: a gold member buys 100.00 of electronics on a weekday → 300 points; but in
    # server mode the stored tier counts, so an unknown member quotes as bronze.
    r = client.post(f"{BASE}/evaluate", json=order("O-1"), headers=checkout_key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["earn"]["points"] == 200 and body["member"]["tier"] == "bronze"
    assert body["ruleset_version"] == 1 and body["ruleset_digest"].startswith("sha256:")


def test_commit_then_retry_then_conflict(client, checkout_key):
    first = client.post(f"{BASE}/orders", json=order("O-1"), headers=checkout_key)
    assert first.status_code == 201, first.text
    again = client.post(f"{BASE}/orders", json=order("O-1"), headers=checkout_key)
    assert again.status_code == 200 and again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    clash = client.post(f"{BASE}/orders", json=order("O-1", amount="5.00"), headers=checkout_key)
    assert clash.status_code == 409
    assert clash.json()["code"] == "order_conflict"
    member = client.get(f"{BASE}/members/CUST-1", headers=checkout_key,
                        params={"as_of": "2026-11-18T00:00:00Z"}).json()
    assert member["balance"] == first.json()["commit"]["balance"] == 400


def test_quote_pinned_version_and_unknown_version(client, checkout_key):
    pinned = client.post(f"{BASE}/evaluate", json={**order("O-1"), "ruleset_version": 1},
                         headers=checkout_key)
    assert pinned.status_code == 200 and pinned.json()["ruleset_version"] == 1
    missing = client.post(f"{BASE}/evaluate", json={**order("O-1"), "ruleset_version": 7},
                          headers=checkout_key)
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_version"


def test_unknown_program_is_404(client, checkout_key):
    r = client.post("/v1/programs/nope/evaluate", json=order("O-1"), headers=checkout_key)
    assert r.status_code == 404 and r.json()["code"] == "unknown_program"


def test_order_before_any_activation_is_422_with_pointer(client, checkout_key):
    r = client.post(f"{BASE}/orders", json=order("O-1", placed_at="2025-06-01T10:00:00Z"),
                    headers=checkout_key)
    assert r.status_code == 422
    assert r.json()["code"] == "no_effective_version"
    assert r.json()["pointer"] == "/order/placed_at"


def test_refund_by_line_and_ledger_pagination(client, checkout_key):
    client.post(f"{BASE}/orders", json=order("O-1", quantity=4, amount="25.00"), headers=checkout_key)
    r = client.post(f"{BASE}/orders/O-1/refunds", headers=checkout_key,
                    json={"refund_id": "R-1", "lines": [{"index": 0, "quantity": 1}]})
    assert r.status_code == 201, r.text
    assert r.json()["points_reversed"] == 50
    missing = client.post(f"{BASE}/orders/NOPE/refunds", headers=checkout_key,
                          json={"refund_id": "R-1"})
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_order"
    seen, cursor = [], None
    while True:
        page = client.get(f"{BASE}/members/CUST-1/ledger", headers=checkout_key,
                          params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and len({e["id"] for e in seen}) == 5
    assert sum(e["points"] for e in seen) == 400 - 50


def test_activities_are_limited_as_the_ruleset_says(client, checkout_key):
    def share(n, day):
        return client.post(f"{BASE}/activities", headers=checkout_key, json={
            "event_id": f"E-{n}", "member_id": "CUST-1", "activity": "social_share",
            "occurred_at": f"2026-11-{day}T12:00:00Z"})

    assert share(1, 17).status_code == 201
    refused = share(2, 17)
    assert refused.status_code == 422 and refused.json()["code"] == "activity_limit_reached"
    assert share(3, 18).status_code == 201
    assert share(3, 18).status_code == 200  # replay
    referral = client.post(f"{BASE}/activities", headers=checkout_key, json={
        "event_id": "E-9", "member_id": "CUST-1", "activity": "referral", "friend_id": "CUST-2",
        "occurred_at": "2026-11-18T12:00:00Z"}).json()
    assert referral["points"] == 500 and referral["friend"]["points"] == 200
    first = client.post(f"{BASE}/activities", headers=checkout_key, json={
        "event_id": "E-10", "member_id": "CUST-1", "activity": "first_purchase",
        "occurred_at": "2026-11-18T12:00:00Z"})
    assert first.status_code == 422 and first.json()["code"] == "activity_not_offered"


def test_catalog_filtered_for_a_member(client, checkout_key):
    full = client.get(f"{BASE}/catalog", headers=checkout_key).json()
    assert [i["id"] for i in full["items"]] == ["REWARD-001", "REWARD-002", "REWARD-101", "REWARD-201"]
    client.post(f"{BASE}/orders", json=order("O-1", amount="200.00"), headers=checkout_key)
    mine = client.get(f"{BASE}/catalog", headers=checkout_key,
                      params={"member_id": "CUST-1", "as_of": "2026-11-18T00:00:00Z"}).json()
    # 600 points, bronze: REWARD-001 (500) and REWARD-002 (200); not the mug, not VIP.
    assert [i["id"] for i in mine["items"]] == ["REWARD-001", "REWARD-002"]


def test_member_summary_expiring_and_progress(client, checkout_key):
    client.post(f"{BASE}/orders", json=order("O-1", placed_at="2026-02-01T12:00:00Z"),
                headers=checkout_key)  # expires 24 months later, 2028-02-01
    r = client.get(f"{BASE}/members/CUST-1", headers=checkout_key,
                   params={"as_of": "2027-12-15T00:00:00Z"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expiring"] == {"30_days": 0, "60_days": 400, "90_days": 400}
    assert body["tier"] == "bronze" and body["progress"]["next_tier"] == "silver"
    missing = client.get(f"{BASE}/members/NOBODY", headers=checkout_key)
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_member"


def test_a_quote_that_pays_with_points_is_evaluated(client, checkout_key):
    """`redeem: {"points": N}` through the API reaches the engine as sent (the model's
    default quantity, which goes with rewards only, is not added to it)."""
    r = client.post("/v1/programs/retail/evaluate", headers=checkout_key, json={
        "member": {"id": "CUST-Q"}, "redeem": {"points": 500},
        "order": {"id": "Q-1", "placed_at": "2026-11-17T14:30:00-05:00", "lines": [
            {"sku": "TV", "category": "electronics", "quantity": 1, "unit_price": "100.00"}]}})
    assert r.status_code == 200, r.text
    assert r.json()["redemption"]["points"] == 500
