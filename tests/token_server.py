"""An OAuth 2.0 token endpoint (client credentials, RFC 6749 §4.4) for tests, served by
tests/loopback.py, and a gate that puts the points API of tests/points_api.py behind its
tokens (401 for a token it did not issue, or revoked, or expired)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.loopback import Request

CLIENT_ID, CLIENT_SECRET = "loyalty-platform", "client-secret-0123456789"


class TokenServer:
    """Issues `tok-1`, `tok-2`, … to the one known client, each valid `lifetime` seconds
    by `clock`; `revoke()` ends every token issued so far."""

    def __init__(self, lifetime: float = 3600, clock: Callable[[], float] = time.monotonic,
                 answer_expires_in: bool = True) -> None:
        self.lifetime, self.clock = lifetime, clock
        self.answer_expires_in = answer_expires_in
        self.issued: dict[str, float] = {}  # token → expires at
        self.forms: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> tuple[int, Any]:
        form = request.body or {}
        self.forms.append(form)
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if self._client(request, form) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        with self.lock:
            token = f"tok-{len(self.issued) + 1}"
            self.issued[token] = self.clock() + self.lifetime
        answer = {"access_token": token, "token_type": "Bearer"}
        if self.answer_expires_in:
            answer["expires_in"] = int(self.lifetime)
        return 200, answer

    @staticmethod
    def _client(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user, password
        return form.get("client_id"), form.get("client_secret")

    def valid(self, token: str) -> bool:
        with self.lock:
            return self.issued.get(token, float("-inf")) > self.clock()

    def revoke(self) -> None:
        with self.lock:
            self.issued = {t: float("-inf") for t in self.issued}


class Gate:
    """The points API answering only requests with a valid token of `tokens`."""

    def __init__(self, api: Callable[[Request], tuple[int, Any]], tokens: TokenServer) -> None:
        self.api, self.tokens = api, tokens
        self.seen: list[str] = []  # the token of every request

    def __call__(self, request: Request) -> tuple[int, Any]:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        self.seen.append(token)
        if not self.tokens.valid(token):
            return 401, {"error": "invalid_token"}
        return self.api(request)
