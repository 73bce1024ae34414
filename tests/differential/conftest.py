from tests.store.db_support import database_url, migrated_db  # noqa: F401
