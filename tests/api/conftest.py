from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from store.registry import keys
from store.settings import Settings
from tests.api.b2b_fixtures import companies, points  # noqa: F401
from tests.store.db_support import database_url, db, migrated_db, server_clock  # noqa: F401
from tests.store.helpers import publish_retail


def make_key(db, *scopes: str, program: str | None = None) -> str:
    with db.writing() as session:
        plaintext, _ = keys.create(session, list(scopes), program=program, name="test")
    return plaintext


@pytest.fixture
def app(db):
    publish_retail(db, 1)
    # No background jobs in these apps (tests/api/test_jobs.py runs them on purpose).
    settings = Settings(database_url=db.url, max_body_bytes=200_000, api_key_cache_seconds=0,
                        jobs_enabled=False)
    return create_app(settings, db)


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def checkout_key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit')}"}


@pytest.fixture
def admin_key(db):
    return {"Authorization": f"Bearer {make_key(db, 'admin')}"}


@pytest.fixture
def evaluate_key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate')}"}
