"""Signed delivery callbacks (`POST /v1/fulfilment/callbacks`): a carrier or the
fulfilment API says an order item was shipped, delivered or failed.

Signed as the Standard Webhooks specification says (the scheme the platform's own
webhooks use): headers `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (several signatures
may be given, space-separated, while a secret is rotated), with the shared secret
`LOYALTY_FULFILMENT_CALLBACK_SECRET` (`whsec_<base64>`, or any other text used as it
is). A timestamp further than `LOYALTY_FULFILMENT_CALLBACK_TOLERANCE_SECONDS` from the
server clock is refused, so a captured callback cannot be replayed later; within the
window a repeated `webhook-id` answers the first answer and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import store.clock as clock
from store.b2b_orders.items import advance
from store.db.database import Database
from store.errors import Conflict, StoreError, Unprocessable
from store.tables.b2b_orders import FulfilmentCallbackRow

SIGNATURE_VERSION = "v1"
STATUSES = ("shipped", "delivered", "failed")


class BadSignature(StoreError):
    """The callback is not signed with the shared secret, or not now."""

    status = 401


def secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for a body (senders and tests)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(secret: str | None, headers: Mapping[str, str], body: bytes,
           tolerance: float) -> str:
    """The callback's `webhook-id`, once its signature and timestamp check out."""
    if not secret:
        raise BadSignature("callbacks_not_configured", "no callback secret is set "
                           "(LOYALTY_FULFILMENT_CALLBACK_SECRET): no signature can be verified")
    webhook_id = headers.get("webhook-id") or ""
    stamp = headers.get("webhook-timestamp") or ""
    given = headers.get("webhook-signature") or ""
    if (not webhook_id or len(webhook_id) > 128 or not given
            or not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12):
        raise BadSignature("invalid_signature", "send webhook-id (1 to 128 characters), "
                           "webhook-timestamp (Unix seconds, at most 12 digits) and "
                           "webhook-signature")
    if abs(clock.now().timestamp() - int(stamp)) > tolerance:
        raise BadSignature("stale_timestamp", f"webhook-timestamp {stamp} is more than "
                           f"{tolerance:g} s from the server clock")
    expected = sign(secret, webhook_id, int(stamp), body)
    if not any(hmac.compare_digest(expected, part) for part in given.split(" ") if part):
        raise BadSignature("invalid_signature", "webhook-signature does not match the body "
                           "signed with the shared secret")
    return webhook_id


def receive(db: Database, webhook_id: str, body: bytes,
            payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Apply a verified callback once: (answer, whether it was new). `payload`:
    {order_number, line, status: shipped|delivered|failed, carrier?, tracking?, note?}."""
    digest = hashlib.sha256(body).hexdigest()
    with db.reading() as session:
        seen = session.scalar(select(FulfilmentCallbackRow).where(
            FulfilmentCallbackRow.webhook_id == webhook_id))
    if seen is not None:
        if seen.body_hash != digest:
            raise Conflict("callback_conflict", f"webhook-id {webhook_id!r} came before with "
                           "another body")
        return seen.answer, False
    if payload["status"] == "shipped" and not (payload.get("carrier") and
                                               payload.get("tracking")):
        raise Unprocessable("tracking_required", "a shipped callback gives carrier and "
                            "tracking", pointer="/tracking")
    detail = {k: payload.get(k) for k in ("carrier", "tracking", "note")}
    order, moved = advance(db, None, payload["order_number"], payload["line"],
                           payload["status"], f"callback:{webhook_id}", **detail)
    item = next(i for i in order["items"] if i["line"] == payload["line"])
    answer = {"order_number": order["order_number"], "order_status": order["status"],
              "line": item["line"], "status": item["status"], "moved": moved}
    try:
        with db.writing() as session:
            session.add(FulfilmentCallbackRow(webhook_id=webhook_id, body_hash=digest,
                                              answer=answer, received_at=clock.now()))
    except IntegrityError:
        pass  # the same callback, delivered twice at once: the move was made once
    return answer, True
