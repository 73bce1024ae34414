"""Notification delivery: members' preferences, unsubscribe tokens, the record of every
message planned for a member, and the channels that send them (email over SMTP, a signed
webhook for SMS and push providers)."""
