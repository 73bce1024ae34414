"""The portal's cart: the rewards and quantities a manager is about to order, kept in a
signed cookie of its own (path `/portal`) and bound to the session that filled it, so a
cart never outlives a logout nor moves to another session.

A cart has an id of its own, from its first reward until it is placed (then emptied):
placing it sends that id as the order's idempotency key, so the same cart sent twice (a
double click, a resent form with the old cookie) is one order."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from api.console.session import Session

COOKIE = "loyalty_portal_cart"
MAX_LINES = 50
MAX_QUANTITY = 999


class Carts:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="loyalty-portal-cart")

    def _data(self, request: Request, session: Session) -> dict[str, Any]:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return {}
        try:
            data = self._serializer.loads(raw)
        except BadSignature:
            return {}
        if not isinstance(data, dict) or data.get("n") != session.nonce:
            return {}
        return data

    def ident(self, request: Request, session: Session) -> str | None:
        """The cart's id (None for an empty cart, or one from before carts had ids)."""
        found = self._data(request, session).get("c")
        return found if isinstance(found, str) and found else None

    def read(self, request: Request, session: Session) -> dict[str, int]:
        lines = self._data(request, session).get("l")
        if not isinstance(lines, dict):
            return {}
        return {str(k): int(v) for k, v in lines.items()
                if isinstance(v, int) and 0 < v <= MAX_QUANTITY}

    def write(self, request: Request, response: Response, session: Session,
              lines: Mapping[str, int], fresh: bool = False) -> None:
        """Keep `lines`: a cart that had an id keeps it (unless `fresh`: its order failed,
        so placing it again is a new order); a new one gets one; an empty one has none
        (the next reward starts a new cart)."""
        kept = None if fresh else self.ident(request, session)
        ident = (kept or secrets.token_hex(8)) if lines else None
        value = self._serializer.dumps({"n": session.nonce, "l": dict(lines), "c": ident})
        response.set_cookie(COOKIE, value, path="/portal", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")


def quantities(form: Mapping[str, Any]) -> dict[str, int]:
    """`qty:<reward id>` fields → quantities (blank or 0: none). Raises ValueError naming
    the field that is not a whole number from 0 to 999."""
    out: dict[str, int] = {}
    for name, value in form.items():
        if not name.startswith("qty:"):
            continue
        reward = name[4:]
        text = str(value).strip() or "0"
        if not (text.isascii() and text.isdigit()) or int(text) > MAX_QUANTITY or not reward:
            raise ValueError(f"{name}: a whole number from 0 to {MAX_QUANTITY}, not {text!r}")
        if int(text):
            out[reward] = int(text)
    if len(out) > MAX_LINES:
        raise ValueError(f"a cart holds at most {MAX_LINES} different rewards")
    return out
