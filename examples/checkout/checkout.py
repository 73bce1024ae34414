"""A checkout's calls to the loyalty API, with httpx.

    LOYALTY_URL=http://127.0.0.1:8000 LOYALTY_KEY=<key> python examples/checkout/checkout.py

1. quote the cart (no side effects), 2. commit the order with the version the quote used,
3. retry the commit (a network retry returns the first result), 4. look at the member,
5. refund one unit of a line.
"""

from __future__ import annotations

import os
import sys
import uuid

import httpx

URL = os.environ.get("LOYALTY_URL", "http://127.0.0.1:8000")
KEY = os.environ["LOYALTY_KEY"]
PROGRAM = "retail"


def main() -> int:
    order_id = f"ORD-{uuid.uuid4().hex[:10]}"
    member_id = os.environ.get("MEMBER_ID", "CUST-12345")
    request = {
        "member": {"id": member_id, "attributes": {"segments": ["vip"], "birthday": "1990-11-17"}},
        "order": {"id": order_id, "placed_at": "2026-11-17T14:30:00-05:00", "channel": "web",
                  "currency": "USD", "shipping": "5.00",
                  "lines": [{"sku": "TV-55", "category": "electronics", "quantity": 1,
                             "unit_price": "499.99", "discount": "0.00"},
                            {"sku": "MUG", "category": "home", "quantity": 2,
                             "unit_price": "12.50"}]},
    }
    with httpx.Client(base_url=f"{URL}/v1/programs/{PROGRAM}",
                      headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as api:
        quote = api.post("/evaluate", json=request)
        quote.raise_for_status()
        q = quote.json()
        print(f"quote: {q['earn']['points']} points (ruleset {q['ruleset_version']}), "
              f"tier {q['member']['tier']}")

        pinned = {**request, "ruleset_version": q["ruleset_version"]}
        commit = api.post("/orders", json=pinned)
        commit.raise_for_status()
        c = commit.json()
        print(f"commit: {commit.status_code} awarded {c['commit']['points_awarded']}, "
              f"balance {c['commit']['balance']}")

        retry = api.post("/orders", json=pinned)
        assert retry.status_code == 200 and retry.json() == c, retry.text
        print("retry: 200, same result")

        member = api.get(f"/members/{member_id}", params={"as_of": "2026-11-18T00:00:00Z"}).json()
        print(f"member: tier {member['tier']}, balance {member['balance']}, "
              f"expiring in 90 days {member['expiring']['90_days']}")

        refund = api.post(f"/orders/{order_id}/refunds",
                          json={"refund_id": "R-1", "refunded_at": "2026-11-20T10:00:00Z",
                                "lines": [{"sku": "MUG", "quantity": 1}]})
        refund.raise_for_status()
        print(f"refund: reversed {refund.json()['points_reversed']}, "
              f"balance {refund.json()['balance']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
