"""The scopes an API key may hold. Kept apart from `keys` (and its SQLAlchemy imports) so
the CLI can offer them as choices without loading the database layer at start-up."""

SCOPES = ("evaluate", "commit", "redeem", "viewer", "admin")
