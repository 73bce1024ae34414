"""`loyalty redemptions create|cancel|show`: the HTTP API's redemption operations from
the command line, on the test database, through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import cli
from store.checkout import orders
from store.registry.programs import ProgramCache
from tests.store.helpers import assert_ledger_exact, order, publish_retail


def run(db, *args: str):
    return CliRunner().invoke(cli, ["redemptions", *args, "--database-url", db.url],
                              catch_exceptions=False)


def test_redeem_cancel_show_and_refusals(db):
    publish_retail(db, 1)
    outcome = orders.commit(db, ProgramCache(), "retail", order("O-1", amount="1000.00"))
    earned = outcome.result["commit"]["balance"]
    assert earned >= 2000
    made = run(db, "create", "retail", "CUST-1", "--points", "600",
               "--as-of", "2026-11-18T12:00:00-05:00", "--idempotency-key", "CLI-1")
    assert made.exit_code == 0, made.output
    body = json.loads(made.output)
    assert body["status"] == "completed" and body["points"] == 600 and body["balance"] == earned - 600
    assert body["occurred_at"] == "2026-11-18T17:00:00+00:00"
    again = run(db, "create", "retail", "CUST-1", "--points", "600",
                "--as-of", "2026-11-18T12:00:00-05:00", "--idempotency-key", "CLI-1")
    assert json.loads(again.output)["id"] == body["id"]  # replayed, not redeemed twice

    refused = run(db, "create", "retail", "CUST-1", "--points", "100")
    assert refused.exit_code == 5
    assert json.loads(refused.stdout)["code"] == "BELOW_MINIMUM"
    assert "BELOW_MINIMUM" in refused.stderr
    reward = run(db, "create", "retail", "CUST-1", "--reward", "REWARD-201")
    assert reward.exit_code == 5 and json.loads(reward.stdout)["code"] == "TIER_RESTRICTED"

    cancelled = run(db, "cancel", "retail", body["id"], "--reason", "asked by phone")
    assert cancelled.exit_code == 0 and json.loads(cancelled.output)["balance"] == earned
    shown = json.loads(run(db, "show", "retail", body["id"]).output)
    assert [h["status"] for h in shown["history"]] == ["completed", "cancelled"]
    assert shown["history"][-1]["reason"] == "asked by phone"
    missing = run(db, "show", "retail", "999999")
    assert missing.exit_code == 5 and json.loads(missing.stdout)["code"] == "unknown_redemption"
    both = run(db, "create", "retail", "CUST-1", "--points", "600", "--reward", "REWARD-101")
    assert both.exit_code == 1 and "either --points or --reward" in both.stderr
    assert_ledger_exact(db)
