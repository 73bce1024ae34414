"""The store's CLI commands through click's CliRunner, on the test database."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import inspect

from cli.main import cli
from store.db.migrate import current_revision
from store.registry import keys
from tests.store.helpers import RETAIL


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_db_upgrade_is_repeatable(db):
    result = run("db", "upgrade", "--database-url", db.url)
    assert result.exit_code == 0, result.output
    from alembic.script import ScriptDirectory

    from store.db.migrate import alembic_config
    assert current_revision(db) == ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    with db.engine.connect() as conn:
        assert {"ledger_entries", "orders", "api_keys"} <= set(inspect(conn).get_table_names())


def test_migrations_match_the_models(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.tables.core import Base

    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_keys_create_prints_the_key_alone_on_the_last_line(db):
    result = run("keys", "create", "--scope", "evaluate", "--scope", "commit",
                 "--database-url", db.url)
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("lrk_") and " " not in key
    with db.reading() as session:
        found = keys.verify(session, key)
    assert found is not None and found.scopes == {"evaluate", "commit"}
    listing = run("keys", "list", "--database-url", db.url).output
    assert key not in listing and found.prefix in listing


def test_publish_activate_list_diff(db, tmp_path):
    assert run("publish", str(RETAIL), "-m", "first", "--activate", "effective_from",
               "--database-url", db.url).exit_code == 0
    again = run("publish", str(RETAIL), "--database-url", db.url)
    assert again.exit_code == 0 and "already published" in again.output
    v2 = tmp_path / "retail"
    v2.mkdir()
    for f in RETAIL.glob("*.yaml"):
        text = f.read_text().replace("version: 1", "version: 2")
        (v2 / f.name).write_text(text.replace("electronics: 2.0", "electronics: 3.0"))
    assert run("publish", str(v2), "--database-url", db.url).exit_code == 0
    assert run("activate", "retail", "2", "--database-url", db.url).exit_code == 0
    listed = json.loads(run("rulesets", "list", "--json", "--database-url", db.url).output)
    assert listed["programs"][0]["live_version"] == 2
    text = run("diff", "retail@1", "retail@2", "--database-url", db.url).output
    assert "~ earning.categories.electronics: value 2 → 3" in text
    missing = run("activate", "retail", "9", "--database-url", db.url)
    assert missing.exit_code == 1


def test_publish_invalid_ruleset_exits_3_with_located_errors(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("program: retail\nversion: 0\n")
    result = CliRunner().invoke(cli, ["publish", str(bad), "--database-url", db.url])
    assert result.exit_code == 3
    assert "bad.yaml:" in result.output
