"""The registry commands on a database given explicitly (--database-url): the same store
functions as the service, with the actor from --author (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from click.testing import CliRunner

import tests.store.db_support as db_support
from cli.main import cli
from tests.store.helpers import publish_retail, retail_version

# the store tests' database fixtures (SQLite, or PostgreSQL with CI=true)
database_url, migrated_db = db_support.database_url, db_support.migrated_db
db, server_clock = db_support.db, db_support.server_clock


def run(db, *args: str):
    return CliRunner().invoke(cli, [*args, "--database-url", db.url], catch_exceptions=False,
                              env={"LOYALTY_URL": None, "LOYALTY_DATABASE_URL": None})


def test_approve_activate_and_audit_on_a_database(db, tmp_path, server_clock):
    publish_retail(db, 1)
    folder = tmp_path / "retail"
    folder.mkdir()
    for name, text in retail_version(2).items():
        extra = "approvals:\n  required: 1\n" if name == "program.yaml" else ""
        (folder / name).write_text(text + extra)
    published = run(db, "publish", str(folder), "--author", "ana")
    assert published.exit_code == 0 and "(effective_from_unchanged)" in published.output
    refused = run(db, "activate", "retail", "2", "--author", "ana")
    assert refused.exit_code == 1 and "approvals_required" in refused.output
    assert "self_approval" in run(db, "approve", "retail", "2", "--author", "ana").output
    assert run(db, "approve", "retail", "2", "--author", "ben", "-m", "ok").exit_code == 0
    plan = json.loads(run(db, "activate", "retail", "2", "--dry-run", "--json").output)
    assert plan["refusal"] is None and plan["approvals"]["approved_by"][0]["actor"] == "ben"
    assert run(db, "activate", "retail", "2", "--author", "ana").exit_code == 0
    page = json.loads(run(db, "audit", "--actor", "ben", "--json").output)
    assert [(e["action"], e["detail"]["message"]) for e in page["entries"]] == [
        ("ruleset.approve", "ok")]
    table = run(db, "audit", "--program", "retail", "--limit", "2")
    assert table.output.count("\n") == 3 and "more: --cursor" in table.output
    assert "ruleset.activate" in table.output.splitlines()[0]
    bad = run(db, "audit", "--cursor", "x")
    assert bad.exit_code == 1 and bad.output.startswith("error: --cursor: 'x' is not a cursor")


def test_a_service_url_and_a_database_url_at_the_same_level_is_a_usage_error(db):
    result = CliRunner().invoke(cli, ["rulesets", "list"], env={
        "LOYALTY_URL": "http://127.0.0.1:9", "LOYALTY_DATABASE_URL": db.url})
    assert result.exit_code == 1 and "pass one" in result.output
    flag_wins = CliRunner().invoke(cli, ["rulesets", "list", "--database-url", db.url],
                                   env={"LOYALTY_URL": "http://127.0.0.1:9"})
    assert flag_wins.exit_code == 0, flag_wins.output
