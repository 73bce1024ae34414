from tests.store.db_support import database_url, db, migrated_db  # noqa: F401
