"""`loyalty companies …` and `loyalty managers …` on a real database: they create,
change and list what the API does, audit it as `cli:$USER`, print a key once, and
refuse bad input in one line naming the field (exit 1)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import store.b2b.keys as manager_keys
import store.registry.audit as audit
from cli.main import cli
from tests.store.b2b_helpers import publish_b2b


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False,
                              env={"USER": "ana"})


@pytest.fixture
def url(db):
    publish_b2b(db)
    return db.url


def test_companies_and_managers_from_the_cli(db, url):
    made = run("companies", "create", "b2b-portal", "ACME", "--name", "Acme Corp", "--account",
               "ACC-1", "--tier", "enterprise", "--approval-threshold", "1000",
               "--database-url", url)
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["approval_threshold"] == 1000
    updated = run("companies", "update", "b2b-portal", "ACME", "--tier", "business",
                  "--no-approval-threshold", "--database-url", url)
    assert json.loads(updated.output)["tier"] == "business"
    assert json.loads(updated.output)["approval_threshold"] is None
    assert run("managers", "create", "b2b-portal", "ACME", "alice", "--name", "Alice",
               "--email", "alice@acme.example", "--role", "company_admin",
               "--database-url", url).exit_code == 0
    issued = run("managers", "key", "b2b-portal", "ACME", "alice", "--database-url", url)
    key = issued.output.strip().splitlines()[-1]
    with db.reading() as session:
        assert manager_keys.verify(session, key).manager_id == "alice"
    listed = run("managers", "keys", "b2b-portal", "ACME", "alice", "--database-url", url)
    prefix = listed.output.split("…")[0]
    assert key not in listed.output and key.startswith(prefix)
    assert run("managers", "revoke-key", "b2b-portal", "ACME", "alice", prefix,
               "--database-url", url).exit_code == 0
    with db.reading() as session:
        assert manager_keys.verify(session, key) is None
    assert "alice\tactive\tcompany_admin" in run("managers", "list", "b2b-portal", "ACME",
                                                 "--database-url", url).output
    assert run("managers", "deactivate", "b2b-portal", "ACME", "alice",
               "--database-url", url).exit_code == 0
    assert run("companies", "deactivate", "b2b-portal", "ACME", "--database-url", url).exit_code == 0
    listed = json.loads(run("companies", "list", "b2b-portal", "--json", "--database-url",
                            url).output)
    assert [(c["company_id"], c["active"]) for c in listed] == [("ACME", False)]
    assert run("companies", "list", "b2b-portal", "--active", "--database-url",
               url).output == ""
    with db.reading() as session:
        entries = audit.entries(session)
    assert {e.actor for e in entries if e.action.startswith(("company.", "manager"))} == \
        {"cli:ana"}
    assert len([e for e in entries if e.action.startswith(("company.", "manager"))]) == 7


@pytest.mark.parametrize(("args", "message"), [
    (("companies", "create", "b2b-portal", "ACME", "--name", "A", "--account", "ACC-1",
      "--tier", "gold"), "error: unknown_tier (tier): tier 'gold' is not a tier"),
    (("companies", "create", "nope", "ACME", "--name", "A", "--account", "ACC-1",
      "--tier", "standard"), "error: unknown_program"),
    (("companies", "update", "b2b-portal", "NOPE", "--name", "x"), "error: unknown_company"),
    (("managers", "create", "b2b-portal", "NOPE", "bob", "--name", "Bob", "--email",
      "b@x.example", "--role", "viewer"), "error: unknown_company"),
    (("managers", "key", "b2b-portal", "NOPE", "bob"), "error: unknown_manager"),
])
def test_refusals_are_one_line(url, args, message):
    result = CliRunner().invoke(cli, [*args, "--database-url", url])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1
