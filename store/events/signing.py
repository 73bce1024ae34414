"""Standard Webhooks signatures (the `standardwebhooks` package): every webhook the
platform sends carries `webhook-id`, `webhook-timestamp` and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), keyed by a `whsec_<base64>` secret.
Event deliveries and the notification channels both sign with this."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

__all__ = ["SECRET_PREFIX", "check_secret", "new_secret", "signed_headers"]

SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)  # what a given secret may decode to


def new_secret() -> str:
    """A fresh secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> str | None:
    """Why `secret` cannot sign (None when it can): `whsec_` then base64 of 24 to 64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return "a secret starts with whsec_"
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return "a secret is whsec_ followed by base64"
    if not SECRET_BYTES[0] <= len(key) <= SECRET_BYTES[1]:
        return f"a secret's key is {SECRET_BYTES[0]} to {SECRET_BYTES[1]} bytes"
    return None


def signed_headers(secret: str, msg_id: str, body: str,
                   at: datetime | None = None) -> dict[str, str]:
    """The headers of one signed webhook request whose body is `body`."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    signature = Webhook(secret).sign(msg_id, at, body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature, "content-type": "application/json"}
