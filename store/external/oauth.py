"""OAuth 2.0 client credentials (RFC 6749 §4.4) for the external points API: the client
asks the token endpoint for an access token with its id and secret, keeps it, and asks
again shortly before it expires (`refresh_margin_seconds`) or when the API answers 401
with it (revoked or expired early). One fetch serves every thread waiting for it.

A token endpoint that does not give a token raises `TokenUnavailable`: the points call
is then not sent, which callers treat like an API that did not answer (the saga keeps
its journal, the outbox retries). Secrets are never put in messages."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ClientCredentials(BaseModel):
    """One service's entry of `LOYALTY_POINTS_API_OAUTH`."""

    model_config = ConfigDict(extra="forbid")

    token_url: str = Field(min_length=1, description="the token endpoint")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scope: str | None = Field(None, description="sent as `scope` when given")
    audience: str | None = Field(None, description="sent as `audience` when given")
    auth: Literal["basic", "body"] = Field("basic", description="client authentication: "
                                           "HTTP Basic (default) or form fields")
    refresh_margin_seconds: float = Field(30.0, ge=0, description="fetch a new token this "
                                          "long before the current one expires")


class TokenUnavailable(Exception):
    """No access token could be had (the token endpoint failed or refused)."""


class OAuthTokens:
    """The access token of one client, fetched on demand and kept until it nears expiry."""

    def __init__(self, credentials: ClientCredentials, timeout: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self.http = httpx.Client(timeout=timeout)
        self.clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()
        self.fetches = 0  # how many tokens were fetched (for operators' logs and tests)

    def close(self) -> None:
        self.http.close()

    def token(self) -> str:
        """A token to send now: the kept one, or a new one when it is (nearly) expired."""
        with self._lock:
            if self._token is None or self.clock() >= self._refresh_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def rejected(self, token: str) -> None:
        """The API answered 401 to `token`: forget it (unless another thread already
        replaced it), so the next `token()` fetches a new one."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        c = self.credentials
        form = {"grant_type": "client_credentials"}
        if c.scope:
            form["scope"] = c.scope
        if c.audience:
            form["audience"] = c.audience
        if c.auth == "body":
            form.update(client_id=c.client_id, client_secret=c.client_secret.get_secret_value())
        headers = {"Accept": "application/json"}
        started = self.clock()
        try:
            if c.auth == "basic":
                response = self.http.post(c.token_url, data=form, headers=headers, auth=(
                    c.client_id, c.client_secret.get_secret_value()))
            else:
                response = self.http.post(c.token_url, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise TokenUnavailable(f"token endpoint {c.token_url}: {type(exc).__name__}: "
                                   f"{exc}") from exc
        if not response.is_success:
            raise TokenUnavailable(f"token endpoint {c.token_url}: HTTP "
                                   f"{response.status_code} {_error_of(response)}")
        try:
            body = response.json()
        except ValueError as exc:
            raise TokenUnavailable(f"token endpoint {c.token_url}: not JSON") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        kind = body.get("token_type", "bearer") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or str(kind).lower() != "bearer":
            raise TokenUnavailable(f"token endpoint {c.token_url}: no bearer access_token "
                                   "in the answer")
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and \
            not isinstance(expires_in, bool) and expires_in > 0 else float("inf")
        self._token = token
        # counted from when it was asked for: the answer may have taken a while
        self._refresh_at = started + max(lifetime - c.refresh_margin_seconds, 0.0)
        self.fetches += 1


def _error_of(response: httpx.Response) -> str:
    """The RFC 6749 §5.2 `error` code of a refusal (never its whole body)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return f"({error})" if isinstance(error, str) else ""
