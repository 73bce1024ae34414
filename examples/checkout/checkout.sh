#!/usr/bin/env bash
# A checkout's calls to the loyalty API, with curl.
#   LOYALTY_URL=http://127.0.0.1:8000 LOYALTY_KEY=<key> bash examples/checkout/checkout.sh
set -euo pipefail
URL="${LOYALTY_URL:-http://127.0.0.1:8000}/v1/programs/retail"
AUTH="Authorization: Bearer ${LOYALTY_KEY:?set LOYALTY_KEY (loyalty keys create --scope evaluate --scope commit)}"
ORDER_ID="ORD-sh-$$-$RANDOM"
MEMBER_ID="${MEMBER_ID:-CUST-curl}"
BODY=$(cat <<JSON
{"member": {"id": "$MEMBER_ID"},
 "order": {"id": "$ORDER_ID", "placed_at": "2026-11-17T14:30:00-05:00", "channel": "web",
           "currency": "USD", "shipping": "5.00",
           "lines": [{"sku": "TV-55", "category": "electronics", "quantity": 1,
                      "unit_price": "499.99"}]}}
JSON
)

echo "== quote"
curl -sS --fail-with-body -H "$AUTH" -H 'Content-Type: application/json' -d "$BODY" "$URL/evaluate"
echo
echo "== commit"
curl -sS --fail-with-body -H "$AUTH" -H 'Content-Type: application/json' -d "$BODY" "$URL/orders" \
  -o /dev/null -w '%{http_code}\n'
echo "== retry (idempotent: 200 with the first result)"
curl -sS --fail-with-body -H "$AUTH" -H 'Content-Type: application/json' -d "$BODY" "$URL/orders" \
  -o /dev/null -w '%{http_code}\n'
echo "== member"
curl -sS --fail-with-body -H "$AUTH" "$URL/members/$MEMBER_ID?as_of=2026-11-18T00:00:00Z"
echo
echo "== full refund"
curl -sS --fail-with-body -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"refund_id": "R-1", "refunded_at": "2026-11-20T10:00:00Z"}' "$URL/orders/$ORDER_ID/refunds"
echo
