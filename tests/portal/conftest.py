from tests.api.b2b_fixtures import companies, points  # noqa: F401
from tests.store.db_support import database_url, db, migrated_db  # noqa: F401
