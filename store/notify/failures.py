"""What a channel raises when it could not send a message."""

from __future__ import annotations

# A channel whose settings are missing: raised before anyone is contacted.
UNCONFIGURED = "channel_unconfigured"


class ChannelError(Exception):
    """A message the channel could not send. `reason` is recorded with the message
    (`UNCONFIGURED`, `rejected`, `undeliverable`); `transient`: worth trying again
    later (the server was down or answered "try later")."""

    def __init__(self, reason: str, detail: str, transient: bool = False) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.transient = reason, detail, transient
