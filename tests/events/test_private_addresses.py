"""Webhooks are not delivered to loopback, private or link-local addresses (server-side
request forgery) unless LOYALTY_WEBHOOK_ALLOW_PRIVATE says so: refused when subscribing
over HTTP, and again by the worker before each attempt."""

from __future__ import annotations

import pytest

from store.events import delivery, webhooks
from store.events.addresses import refused
from store.events.signing import new_secret
from tests.events.receiver import Receiver
from tests.events.test_delivery import expired, statuses
from tests.store.helpers import publish_retail

STRICT = delivery.WebhookSettings(allow_private=False, backoff_seconds=0, timeout_seconds=5)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/x",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/x", "http://192.168.1.1/x",
    "http://172.16.0.1/x", "http://100.64.0.1/x", "http://0.0.0.0/x",
    "http://[::ffff:127.0.0.1]/x", "http://[fd00::1]/x", "http://2130706433/x",
])
def test_non_public_addresses_are_refused(url: str) -> None:
    assert refused(url) is not None, url


def test_a_public_address_is_not() -> None:
    assert refused("https://93.184.215.14/hook") is None
    assert refused("https://[2606:4700::1111]/hook") is None


def test_the_worker_refuses_a_loopback_receiver_unless_allowed(db) -> None:
    publish_retail(db)
    with Receiver(new_secret()) as receiver:
        sid = webhooks.create(db, webhooks.NewSubscription(
            url=receiver.url + "/hook", secret=receiver.secret, max_attempts=1), "t")["id"]
        event = expired(db)
        assert delivery.run(db, STRICT) == {"queued": 1, "dead": 1}
        assert not receiver.ids() and not receiver.bad
        dead = webhooks.deliveries(db, sid, None, None, 10)["deliveries"][0]
        assert dead["last_error"].startswith("refused: 127.0.0.1 is 127.0.0.1")
        webhooks.redeliver(db, sid, dead["id"])
        assert delivery.run(db, delivery.WebhookSettings(backoff_seconds=0))["delivered"] == 1
        assert statuses(db, sid) == {event: "delivered"}
