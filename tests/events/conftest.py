from tests.store.db_support import database_url, db, migrated_db, server_clock  # noqa: F401
