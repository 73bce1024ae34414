"""The console's session: one signed cookie, and the CSRF token derived from it.

The cookie holds a random nonce and, once logged in, the SHA-256 digest of the API key
(never the key). It is signed with the console secret (`itsdangerous`), HttpOnly,
SameSite=Lax, Secure when the console is served over https, and stops being accepted
`console_session_minutes` after login. Every request re-checks the digest through the
API's key cache, so revoking the key ends the session within the cache's few seconds.

The CSRF token of a form is an HMAC of the session's nonce: a page of another site can
neither read it nor compute it, and a new nonce at login and logout retires old tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "loyalty_console"
PATH = "/console"


@dataclass(frozen=True)
class Session:
    nonce: str
    key_digest: str | None = None  # None: not logged in (the login form's session)

    @classmethod
    def anonymous(cls) -> Session:
        return cls(secrets.token_urlsafe(24))

    @classmethod
    def logged_in(cls, key_digest: str) -> Session:
        return cls(secrets.token_urlsafe(24), key_digest)


class Sessions:
    """Reads, writes and clears the session cookie; makes and checks CSRF tokens. The B2B
    portal (api/portal) keeps its own cookie on its own path, signed under its own salt, so
    a console session never opens the portal nor the other way round."""

    def __init__(self, secret: str, max_age_seconds: int, *, cookie: str = COOKIE,
                 path: str = PATH, purpose: str = "console") -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=f"loyalty-{purpose}-session")
        self._csrf_key = hashlib.sha256(f"loyalty-{purpose}-csrf:".encode() + secret.encode()
                                        ).digest()
        self.max_age = max_age_seconds
        self.cookie, self.path = cookie, path

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(self.cookie)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # forged, signed with another secret, or expired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("n"), str):
            return None
        digest = data.get("k")
        return Session(data["n"], digest if isinstance(digest, str) else None)

    def write(self, request: Request, response: Response, session: Session) -> None:
        value = self._serializer.dumps({"n": session.nonce, "k": session.key_digest})
        response.set_cookie(self.cookie, value, max_age=self.max_age, path=self.path,
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")

    def clear(self, request: Request, response: Response) -> None:
        response.delete_cookie(self.cookie, path=self.path, httponly=True, samesite="lax",
                               secure=request.url.scheme == "https")

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session | None, token: str) -> bool:
        return session is not None and hmac.compare_digest(self.csrf_token(session), token)
