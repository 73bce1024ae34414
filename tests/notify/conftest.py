from __future__ import annotations

from tests.api.conftest import admin_key, app, checkout_key, client, evaluate_key  # noqa: F401
from tests.store.db_support import database_url, db, migrated_db, server_clock  # noqa: F401
