"""Unsubscribe links: a signed token naming a program and a member, put in every marketing
email, that sets the member's marketing opt-out without any key.

The token is signed (itsdangerous, HMAC-SHA1 over the payload with a salt of its own) with
`LOYALTY_UNSUBSCRIBE_SECRET`, or the console secret when that is unset, so every host
accepts every other's links; it does not expire (a link in an old email still works), and
using it twice is harmless (the second time changes nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

import store.console_secret as console_secret
import store.ledger.members as members
import store.notify.preferences as preferences
from store.db.database import Database
from store.errors import StoreError
from store.settings import Settings

SALT = "loyalty.unsubscribe"
PATH = "/v1/unsubscribe/"


@dataclass(frozen=True)
class Unsubscriber:
    """Makes and reads the tokens of one secret."""

    secret: str

    @classmethod
    def of(cls, settings: Settings, db: Database) -> Unsubscriber:
        return cls(settings.unsubscribe_secret or settings.console_secret
                   or console_secret.stored_secret(db))

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=SALT)

    def token(self, program: str, member_id: str) -> str:
        return str(self._serializer().dumps([program, member_id]))

    def url(self, public_url: str, program: str, member_id: str) -> str:
        return public_url.rstrip("/") + PATH + self.token(program, member_id)

    def read(self, token: str) -> tuple[str, str]:
        """(program, member id) of a token this secret signed; a `StoreError`
        (`invalid_token`, 400) for anything else."""
        try:
            payload = self._serializer().loads(token)
        except BadSignature:
            payload = None
        if not (isinstance(payload, list) and len(payload) == 2
                and all(isinstance(part, str) for part in payload)):
            message = ("this unsubscribe link is not valid (changed or cut short); use the "
                       "link of the email as it came")
            raise StoreError("invalid_token", message, errors=[
                {"parameter": "token", "in": "path", "message": "not a valid unsubscribe token"}])
        return payload[0], payload[1]

    def check(self, db: Database, token: str) -> tuple[str, str]:
        """(program, member id) of a valid token of a member the program knows (404
        `unknown_member` otherwise); nothing is changed."""
        program, member_id = self.read(token)
        with db.reading() as session:
            members.get(session, program, member_id)
        return program, member_id

    def unsubscribe(self, db: Database, token: str) -> dict[str, Any]:
        """Set the marketing opt-out of the token's member; `changed` is False when it was
        set already."""
        program, member_id = self.read(token)
        with db.writing() as session:
            members.get(session, program, member_id)
            changed = preferences.opt_out(session, program, member_id, "unsubscribe")
        return {"program": program, "member_id": member_id, "marketing_opt_out": True,
                "changed": changed}
