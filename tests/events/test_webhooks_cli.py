"""`loyalty webhooks` on a database directly (the service path is in test_workers.py)."""

from __future__ import annotations

from click.testing import CliRunner

from cli.main import cli
from store.events.signing import check_secret


def run(db, *args: str):
    return CliRunner().invoke(cli, ["webhooks", *args, "--database-url", db.url],
                              env={"LOYALTY_URL": None, "LOYALTY_DATABASE_URL": None})


def test_create_list_deliveries_delete(db):
    made = run(db, "create", "https://crm.example.com/hook", "--event", "tier.changed",
               "--max-attempts", "3")
    assert made.exit_code == 0, made.output
    first, secret = made.output.strip().splitlines()
    ident, _, rest = first.partition("  ")  # ids keep counting in a reused database
    assert ident.isdigit() and rest.startswith("https://crm.example.com/hook  tier.changed")
    assert check_secret(secret) is None
    assert "max 3 attempts" in run(db, "list").output
    assert run(db, "deliveries", ident).output.strip() == "no deliveries"
    assert "deleted at" in run(db, "delete", ident).output
    assert run(db, "list").output.strip() == "no webhook subscriptions"


def test_bad_input_is_one_line(db):
    unknown = run(db, "create", "https://x.example.com", "--event", "points.stolen")
    assert unknown.exit_code == 1 and "unknown_event_type" in unknown.output
    assert "http or https" in run(db, "create", "ftp://x.example.com").output
    assert "invalid_secret" in run(db, "create", "https://x.example.com", "--secret",
                                   "whsec_QUJD").output
    gone = run(db, "delete", "999999")
    assert gone.exit_code == 1 and "unknown_webhook" in gone.output
    assert run(db, "redeliver", "1", "0").exit_code == 2  # not a row id
