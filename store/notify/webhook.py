"""The `webhook` channel, for SMS and push providers: the rendered message as a JSON POST
to `LOYALTY_NOTIFY_WEBHOOK_URL`, signed per the Standard Webhooks specification
(`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`) with `LOYALTY_NOTIFY_WEBHOOK_SECRET` (`whsec_<base64>`), by the
same signer as the event webhooks (store/events/signing.py).

`webhook-id` is the same on every attempt of one message, so the receiver can drop a
repeat. A 2xx answer means sent; 408, 429 and 5xx, or no answer, are worth another
attempt; any other answer is a refusal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import orjson

from store.events.signing import check_secret, signed_headers
from store.notify.failures import UNCONFIGURED, ChannelError
from store.settings import Settings

RETRYABLE = {408, 425, 429}


def send(settings: Settings, webhook_id: str, payload: dict[str, Any], at: datetime) -> None:
    """POST one message; a `ChannelError` when it was not accepted."""
    secret = settings.notify_webhook_secret
    if not settings.notify_webhook_url or not secret:
        raise ChannelError(UNCONFIGURED, "LOYALTY_NOTIFY_WEBHOOK_URL and "
                           "LOYALTY_NOTIFY_WEBHOOK_SECRET must both be set")
    if (unusable := check_secret(secret)) is not None:
        raise ChannelError(UNCONFIGURED, f"LOYALTY_NOTIFY_WEBHOOK_SECRET: {unusable}")
    body = orjson.dumps(payload)
    headers = signed_headers(secret, webhook_id, body.decode(), at)
    try:
        answer = httpx.post(settings.notify_webhook_url, content=body, headers=headers,
                            timeout=settings.notify_webhook_timeout_seconds)
    except httpx.HTTPError as exc:
        raise ChannelError("undeliverable", f"{type(exc).__name__}: {exc}",
                           transient=True) from None
    if answer.is_success:
        return
    detail = f"HTTP {answer.status_code}: {answer.text[:200]}"
    transient = answer.status_code >= 500 or answer.status_code in RETRYABLE
    raise ChannelError("undeliverable" if transient else "rejected", detail, transient)
