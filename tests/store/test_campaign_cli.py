"""`loyalty campaigns` and `loyalty codes` on a database: the same store functions and
JSON as the API; `codes generate` writes the CSV that `loyalty simulate --codes` reads."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from cli.main import cli
from tests.store.campaign_program import publish_campaigns
from tests.store.helpers import RETAIL as RETAIL_PATH

RETAIL = str(RETAIL_PATH)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_codes_generate_writes_csv_and_show_reads_a_code(db, tmp_path):
    publish_campaigns(db)
    out = run("codes", "generate", "--program", "retail", "--campaign", "coupon-bonus",
              "--count", "4", "--uses", "3", "--database-url", db.url)
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 4 and {r["campaign"] for r in rows} == {"coupon-bonus"}
    assert {r["uses"] for r in rows} == {"3"} and len({r["code"] for r in rows}) == 4
    shown = run("codes", "show", "retail", rows[0]["code"].lower(), "--database-url", db.url)
    assert shown.exit_code == 0 and json.loads(shown.stdout)["left"] == 3
    refused = run("codes", "generate", "--program", "retail", "--campaign", "fashion-week",
                  "--count", "1", "--database-url", db.url)
    assert refused.exit_code == 5 and "codes_not_required" in refused.stderr
    to_file = tmp_path / "codes.csv"
    assert run("codes", "generate", "--program", "retail", "--campaign", "coupon-bonus",
               "--count", "2", "--out", str(to_file), "--database-url", db.url).exit_code == 0
    assert to_file.read_text().splitlines()[0] == "code,campaign,uses"


def test_campaigns_join_list_progress_leave(db):
    publish_campaigns(db)
    at = ["--as-of", "2026-11-17T12:00:00Z", "--database-url", db.url]
    joined = run("campaigns", "join", "retail", "join-bonus", "M-1", *at)
    assert joined.exit_code == 0 and json.loads(joined.stdout)["enrolled"] is True
    listed = json.loads(run("campaigns", "list", "retail", "--member", "M-1", *at).stdout)
    join = next(c for c in listed["campaigns"] if c["id"] == "join-bonus")
    assert join["eligible"] is True and join["enrolled"] is True
    progress = json.loads(run("campaigns", "progress", "retail", "M-1", *at).stdout)
    assert next(c for c in progress["campaigns"] if c["id"] == "join-bonus")["enrolled"]
    refused = run("campaigns", "join", "retail", "fashion-week", "M-1", *at)
    assert refused.exit_code == 5 and json.loads(refused.stdout)["code"] == "not_opt_in"
    left = run("campaigns", "leave", "retail", "join-bonus", "M-1", *at)
    assert json.loads(left.stdout)["enrolled"] is False
    referral = run("codes", "referral", "retail", "M-1", "--database-url", db.url)
    assert json.loads(referral.stdout)["code"].startswith("R-")


def test_simulate_refuses_a_bad_codes_file(tmp_path):
    history = tmp_path / "h.jsonl"
    history.write_text('{"type": "campaign_join", "member_id": "M", "at": '
                       '"2026-01-01T00:00:00Z", "campaign": "x"}\n')
    bad = tmp_path / "codes.csv"
    bad.write_text("code,campaign,uses\nDIFF-1,coupon-bonus,0\n")
    out = run("simulate", "-r", RETAIL, "--history", str(history), "--codes", str(bad))
    assert out.exit_code == 1 and f"{bad}:2:" in out.stderr
    bad.write_text("code,uses\n")
    out = run("simulate", "-r", RETAIL, "--history", str(history), "--codes", str(bad))
    assert out.exit_code == 1 and "lacks campaign" in out.stderr
    bad.write_text("code,campaign,uses\nDIFF-1,coupon-bonus,2\n")
    out = run("simulate", "-r", RETAIL, "--history", str(history), "--codes", str(bad),
              "-o", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)  # a join of a campaign that is not opt-in is rejected
    assert doc["events"]["errors"][0]["message"].startswith("unknown_campaign")
