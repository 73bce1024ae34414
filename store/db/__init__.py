"""Connections, transactions, column types and upserts for SQLite and PostgreSQL, and running the migrations (in `store/migrations/`)."""
