"""Domain errors raised by the store; the HTTP layer maps each kind to one status code."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """A refusal with a stable machine code, a message for people and, where one exists,
    a JSON pointer to the offending field of the request."""

    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        pointer: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.pointer = pointer
        self.errors = errors


class Forbidden(StoreError):
    status = 403


class NotFound(StoreError):
    status = 404


class Conflict(StoreError):
    status = 409


class Unprocessable(StoreError):
    status = 422


class Unavailable(StoreError):
    """A service the request depends on cannot answer now; retry later."""

    status = 503


class BadGateway(StoreError):
    """A service the request depends on answered with something we cannot use."""

    status = 502
