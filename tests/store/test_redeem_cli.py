"""`loyalty redemptions create|cancel|show`: the HTTP API's redemption operations from
the command line, on the test database, through click's CliRunner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.main import cli
from store.checkout import orders
from store.registry.programs import ProgramCache
from store.tables.redemptions import RedemptionRow
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


def hold(db, as_of: str | None, key: str | None = None):
    extra = [*(["--as-of", as_of] if as_of else []), *(["--idempotency-key", key] if key else [])]
    return run(db, "create", "retail", "CUST-1", "--points", "600", "--order-id", "H-1",
               "--order-total", "600.00", "--hold-minutes", "45", *extra)


@pytest.fixture
def earned(db, server_clock):
    """CUST-1 earned 2,300 points on 2026-11-17 (and the first-electronics gift, a
    redemption of its own); the server clock reads 2026-12-01."""
    server_clock.set("2026-12-01T12:00:00+00:00")
    publish_retail(db, 1)
    outcome = orders.commit(db, ProgramCache(), "retail", order("O-1", amount="1000.00"))
    return outcome.result["commit"]["balance"]


@pytest.mark.parametrize("as_of, says", [
    ("2026-12-01T12:05:01+00:00", "instant_in_future"),  # a second past the 300 s skew
    ("2099-01-01T00:00:00Z", "instant_in_future"),
    ("0001-01-01T00:00:00+05:00", "years 1900-2999"),
    ("2026-12-01 12:00:00Z", "UTC offset"),
], ids=["just past the skew", "far ahead", "before the calendar", "not the contract's form"])
def test_an_as_of_the_api_would_refuse_is_refused_at_the_option(db, earned, as_of, says):
    refused = hold(db, as_of)
    assert refused.exit_code == 1, refused.output
    assert refused.stderr.startswith("error: --as-of: ") and says in refused.stderr
    with db.reading() as session:  # nothing was recorded: the order's gift is all there is
        kinds = session.scalars(select(RedemptionRow.kind)).all()
    assert kinds == ["gift"]
    assert_ledger_exact(db)


def test_a_hold_within_the_skew_times_out_from_its_as_of(db, earned):
    made = hold(db, "2026-12-01T12:04:00+00:00")
    assert made.exit_code == 0, made.output
    body = json.loads(made.output)
    assert body["status"] == "held" and body["balance"] == earned - 600
    assert body["hold_expires_at"] == "2026-12-01T12:49:00+00:00"


def test_without_as_of_a_retry_with_the_key_replays_the_hold_made_now(db, earned):
    first = hold(db, None, key="CLI-H")
    assert first.exit_code == 0, first.output
    body = json.loads(first.output)
    assert body["occurred_at"] == "2026-12-01T12:00:00+00:00"  # the server clock
    assert body["hold_expires_at"] == "2026-12-01T12:45:00+00:00"
    again = hold(db, None, key="CLI-H")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["id"] == body["id"]
