"""No command creates or migrates a database as a side effect (only `serve`, `db upgrade` and
`import` may): from a folder without one, each says so in one line and exits 1, and the
folder stays empty; a database behind the code's revision is named with its revision."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from store.db.database import open_database
from store.db.migrate import head_revision, upgrade
from tests.store.db_support import postgres_base_url, scratch_database

NEEDS_A_DATABASE = [
    ("keys", "list"),
    ("keys", "create", "--scope", "admin"),
    ("keys", "revoke", "lrk_abcdef"),
    ("companies", "list", "b2b-portal"),
    ("companies", "create", "b2b-portal", "ACME", "--name", "A", "--account", "A", "--tier", "x"),
    ("managers", "key", "b2b-portal", "ACME", "alice"),
    ("expire", "--program", "retail"),
    ("jobs", "run", "--once"),
    ("redemptions", "show", "retail", "1"),
    ("redemptions", "create", "retail", "CUST-1", "--points", "10"),
    ("rulesets", "list", "--database-url", "sqlite:///./loyalty.db"),
    ("rulesets", "show", "retail", "1", "--database-url", "sqlite:///./loyalty.db"),
    ("activate", "retail", "1", "--database-url", "sqlite:///./loyalty.db"),
    ("approve", "retail", "1", "--database-url", "sqlite:///./loyalty.db"),
    ("audit", "--database-url", "sqlite:///./loyalty.db"),
    ("diff", "retail@1", "retail@2", "--database-url", "sqlite:///./loyalty.db"),
]


def run_in(folder: Path, *args: str, database_url: str | None = None):
    here = os.getcwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False,
                                  env={"LOYALTY_DATABASE_URL": database_url, "LOYALTY_URL": None})
    finally:
        os.chdir(here)


@pytest.mark.parametrize("args", NEEDS_A_DATABASE, ids=" ".join)
def test_a_missing_sqlite_database_is_one_line_and_no_file(tmp_path, args):
    result = run_in(tmp_path, *args)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        ("error: no loyalty database at loyalty.db; create it with `loyalty db upgrade` "
        "(or start `loyalty serve`)")]
    assert list(tmp_path.iterdir()) == []


def test_publish_to_a_missing_database_validates_first_then_refuses(tmp_path):
    ruleset = Path(__file__).resolve().parents[2] / "rulesets" / "retail"
    result = run_in(tmp_path, "publish", str(ruleset), "--database-url", "sqlite:///./loyalty.db")
    assert result.exit_code == 1 and "no loyalty database at loyalty.db" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_database_behind_the_code_names_both_revisions(tmp_path):
    with scratch_database(tmp_path, "old.db") as url:
        db = open_database(url)
        upgrade(db, "0011")
        db.dispose()
        result = run_in(tmp_path, "keys", "list", database_url=url)
        assert result.exit_code == 1
        assert result.output.splitlines() == [
            (f"error: database at revision 0011, this version needs {head_revision()}; "
            "run `loyalty db upgrade`")]
        assert run_in(tmp_path, "db", "upgrade", database_url=url).exit_code == 0
        assert run_in(tmp_path, "keys", "list", database_url=url).exit_code == 0


def test_an_empty_database_is_not_a_loyalty_database(tmp_path):
    with scratch_database(tmp_path, "empty.db") as url:
        if postgres_base_url() is None:
            Path(url.removeprefix("sqlite:///")).touch()
        result = run_in(tmp_path, "rulesets", "list", database_url=url)
        assert result.exit_code == 1 and len(result.output.splitlines()) == 1
        assert "holds no loyalty tables); create it with `loyalty db upgrade`" in result.output
        assert "password" not in result.output


def test_an_unreachable_postgresql_is_one_line(tmp_path):
    result = run_in(tmp_path, "keys", "list",
                    database_url="postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert result.output.startswith("error: cannot open the database at "
                                    "postgresql+psycopg://nobody@127.0.0.1:1/none: ")


def test_serve_style_commands_still_create_it(tmp_path):
    result = run_in(tmp_path, "db", "upgrade")
    assert result.exit_code == 0 and (tmp_path / "loyalty.db").is_file()
    keys = run_in(tmp_path, "keys", "create", "--scope", "viewer")
    assert keys.exit_code == 0 and keys.output.strip().splitlines()[-1].startswith("lrk_")
