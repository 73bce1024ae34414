"""The `webhook` channel against a real HTTP receiver on loopback that verifies the
Standard Webhooks signature (the `standardwebhooks` package's verifier): a delivery is
signed, its id is the same on a retry, and answers are told apart (sent, refused, worth
another attempt)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

import store.notify.webhook as webhook
from store.events.signing import new_secret
from store.notify.failures import ChannelError
from store.settings import Settings
from tests.loopback import LoopbackServer

SECRET = "whsec_" + base64.b64encode(b"a secret of the provider, 32 b.").decode()
PAYLOAD = {"message_id": "7", "member_id": "CUST-1", "text": "Hola Ana 👋"}


def receiver(verified: list):
    def handle(request):
        try:
            verified.append(Webhook(SECRET).verify(request.raw, request.headers))
        except WebhookVerificationError as exc:
            return 401, {"error": str(exc)}
        return 204, None
    return handle


def settings_for(server) -> Settings:
    return Settings(notify_webhook_url=server.url + "/sms", notify_webhook_secret=SECRET,
                    notify_webhook_timeout_seconds=2)


def test_a_delivery_is_signed_and_a_retry_carries_the_same_id():
    verified: list = []
    with LoopbackServer(receiver(verified)) as server:
        server.fail(1, status=503)
        with pytest.raises(ChannelError) as busy:
            webhook.send(settings_for(server), "notify-7", PAYLOAD, datetime.now(UTC))
        webhook.send(settings_for(server), "notify-7", PAYLOAD, datetime.now(UTC))
    assert (busy.value.reason, busy.value.transient) == ("undeliverable", True)
    assert verified == [PAYLOAD]
    assert [r.headers["webhook-id"] for r in server.requests] == ["notify-7", "notify-7"]
    assert server.requests[1].path == "/sms"


def test_a_wrong_secret_is_refused_by_the_receiver_and_not_retried():
    verified: list = []
    with LoopbackServer(receiver(verified)) as server:
        wrong = settings_for(server).model_copy(update={
            "notify_webhook_secret": new_secret()})
        with pytest.raises(ChannelError) as refused:
            webhook.send(wrong, "notify-8", PAYLOAD, datetime.now(UTC))
    assert (refused.value.reason, refused.value.transient) == ("rejected", False)
    assert "401" in refused.value.detail and verified == []


def test_an_unset_channel_or_a_silent_receiver_says_so():
    with pytest.raises(ChannelError) as off:
        webhook.send(Settings(), "notify-9", PAYLOAD, datetime.now(UTC))
    assert off.value.reason == "channel_unconfigured"
    short = Settings(notify_webhook_url="http://127.0.0.1:9/x", notify_webhook_secret="whsec_AAAA")
    with pytest.raises(ChannelError) as unusable:
        webhook.send(short, "notify-9", PAYLOAD, datetime.now(UTC))
    assert unusable.value.reason == "channel_unconfigured"
    assert "LOYALTY_NOTIFY_WEBHOOK_SECRET" in unusable.value.detail
    with LoopbackServer(receiver([])) as server:
        settings = settings_for(server)
        server.drop()
        with pytest.raises(ChannelError) as dropped:
            webhook.send(settings, "notify-9", PAYLOAD, datetime.now(UTC))
    assert (dropped.value.reason, dropped.value.transient) == ("undeliverable", True)
