"""The logged-in user of a console page: their key, its console role, their session."""

from __future__ import annotations

from dataclasses import dataclass

import store.registry.keys as keys
from api.console.session import Session


class Refused(Exception):
    """An action this principal may not take, or a request that cannot be served: the page
    answers with an error page carrying `status` and `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Principal:
    """The logged-in key, its console role and its session."""

    key: keys.ApiKey
    session: Session

    @property
    def role(self) -> str:
        return "admin" if "admin" in self.key.scopes else "viewer"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        return self.key.actor

    def require_program(self, program: str) -> None:
        """A key bound to a program is refused the pages of any other."""
        if not self.key.serves(program):
            raise Refused(403, f"Your key serves program {self.key.program!r} only, "
                               f"not {program!r}.")
