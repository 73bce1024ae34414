"""A webhook receiver on loopback (tests/loopback.py) that verifies every request's
Standard Webhooks signature with the `standardwebhooks` package and keeps what it got."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from standardwebhooks import Webhook

from tests.loopback import LoopbackServer, Request


class Receiver(LoopbackServer):
    """Answers 200 to every verified delivery (401 to a bad signature); `refuse(event)`
    may answer an error status instead; `gate`, when set, holds each request until it is
    opened."""

    def __init__(self, secret: str,
                 refuse: Callable[[dict[str, Any]], int | None] | None = None) -> None:
        super().__init__(self._answer)
        self.secret = secret
        self.refuse = refuse
        self.verified: list[dict[str, Any]] = []  # events verified, in arrival order
        self.bad: list[Request] = []
        self.gate: threading.Event | None = None

    def _answer(self, request: Request) -> tuple[int, Any]:
        try:
            event = Webhook(self.secret).verify(request.raw, request.headers)
        except Exception:  # noqa: BLE001 — any verification failure is a bad request
            self.bad.append(request)
            return 401, {"error": "bad signature"}
        assert request.headers["webhook-id"] == event["id"]
        with self.lock:
            self.verified.append(event)
        if self.gate is not None:
            self.gate.wait(60)
        status = self.refuse(event) if self.refuse else None
        return (status, {"error": "refused"}) if status else (200, {"ok": True})

    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(e["id"] for e in self.verified)
