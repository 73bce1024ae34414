"""What a channel raises when it could not send a message."""

from __future__ import annotations


class ChannelError(Exception):
    """A message the channel could not send. `reason` is recorded with the message
    (`channel_unconfigured`, `rejected`, `undeliverable`); `transient`: worth trying again
    later (the server was down or answered "try later")."""

    def __init__(self, reason: str, detail: str, transient: bool = False) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.transient = reason, detail, transient
