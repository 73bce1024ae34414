"""`loyalty members insights`, `loyalty report` and `loyalty simulate --from-store`: over a
real `loyalty serve` on loopback, and on a database directly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.api.server import running_server
from tests.store.db_support import scratch_database
from tests.store.helpers import order

RETAIL = Path(__file__).resolve().parents[2] / "rulesets" / "retail"
PERIOD = ("--from", "2026-01-01T00:00:00-05:00", "--to", "2027-01-01T00:00:00-05:00")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    with scratch_database(tmp) as database_url, \
            running_server(database_url, tmp, workers=1) as srv:
        for n, (day, category) in enumerate([("2026-10-05", "electronics"),
                                             ("2026-11-03", "fashion")]):
            response = httpx.post(f"{srv.url}/v1/programs/retail/orders", headers={
                "Authorization": f"Bearer {srv.key}"}, json=order(
                    f"O-{n}", member="M1", placed_at=f"{day}T12:00:00-05:00",
                    category=category))
            assert response.status_code == 201, response.text
        yield srv


def loyalty(*args: str, key: str | None = None, url: str | None = None):
    env = {"LOYALTY_URL": url, "LOYALTY_KEY": key, "LOYALTY_DATABASE_URL": None,
           "LOYALTY_NO_PROGRESS": "1"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_member_insights_over_the_service(service):
    result = loyalty("members", "insights", "retail", "M1", *PERIOD, "--json",
                     key=service.key, url=service.url)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {row["category"] for row in doc["by_category"]} == {"electronics", "fashion"}
    text = loyalty("members", "insights", "retail", "M1", *PERIOD, key=service.key,
                   url=service.url)
    assert text.exit_code == 0, text.output
    assert "electronics" in text.output and "tier bronze: next silver" in text.output
    refused = loyalty("members", "insights", "retail", "NOPE", key=service.key,
                      url=service.url)
    assert refused.exit_code == 1 and "unknown_member" in refused.output


def test_the_performance_report_over_the_service(service, tmp_path):
    html = tmp_path / "report.html"
    result = loyalty("report", "--program", "retail", *PERIOD, "-o", "json", "--report",
                     str(html), key=service.admin_key, url=service.url)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["totals"]["orders"] == 2 and doc["totals"]["books_balance"] is True
    assert set(doc["by_month"]) == {"2026-10", "2026-11"}
    page = html.read_text()
    assert "<svg" in page and "Performance of retail" in page
    text = loyalty("report", "--program", "retail", *PERIOD, key=service.admin_key,
                   url=service.url)
    assert text.exit_code == 0 and "points_outstanding" in text.output
    backwards = loyalty("report", "--program", "retail", "--from", "2027-01-01T00:00:00Z",
                        "--to", "2026-01-01T00:00:00Z", key=service.admin_key, url=service.url)
    assert backwards.exit_code == 1 and "invalid_period" in backwards.output
    bad = loyalty("report", "--program", "retail", "--from", "soon", key=service.admin_key,
                  url=service.url)
    assert bad.exit_code == 1 and "--from" in bad.output
    not_admin = loyalty("report", "--program", "retail", key=service.key,
                        url=service.url)
    assert not_admin.exit_code == 1 and "forbidden_scope" in not_admin.output


def test_a_backtest_replays_the_recorded_history_through_a_draft(service, tmp_path):
    draft = tmp_path / "retail"
    shutil.copytree(RETAIL, draft, ignore=shutil.ignore_patterns("tests"))
    (draft / "program.yaml").write_text(
        (draft / "program.yaml").read_text().replace("version: 1", "version: 2"))
    (draft / "earning.yaml").write_text(
        (draft / "earning.yaml").read_text().replace("electronics: 2.0", "electronics: 3.0"))
    html = tmp_path / "backtest.html"
    result = loyalty("simulate", "-r", str(draft), "--from-store", "--database-url",
                     service.database_url, *PERIOD, "-o", "json", "--report", str(html))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    production = doc["compare"]
    assert production["program"]["source"] == "recorded"
    assert doc["totals"]["orders"] == production["totals"]["orders"] == 2
    # electronics earn 3x instead of 2x: the draft issues 100 points more
    assert doc["totals"]["points_issued"] == production["totals"]["points_issued"] + 100
    assert production["delta"]["totals"]["points_issued"] == -100
    assert doc["by_rule"]["earning.categories.electronics"] == 200
    assert production["by_rule"]["earning.categories.electronics"] == 100
    assert "Backtest of" in html.read_text()
    same = loyalty("simulate", "-r", str(RETAIL), "--from-store", "--database-url",
                   service.database_url, "-o", "json")
    assert same.exit_code == 0, same.output
    both = json.loads(same.stdout)
    assert both["compare"]["delta"]["totals"]["points_issued"] == 0


def test_backtest_options_are_checked(service, tmp_path):
    history = tmp_path / "h.jsonl"
    history.write_text("")
    both = loyalty("simulate", "-r", str(RETAIL), "--from-store", "--history", str(history))
    assert both.exit_code == 1 and "--from-store" in both.output
    neither = loyalty("simulate", "-r", str(RETAIL))
    assert neither.exit_code == 1
    stray = loyalty("simulate", "-r", str(RETAIL), "--history", str(history), "--from",
                    "2026-01-01T00:00:00Z")
    assert stray.exit_code == 1 and "go with --from-store" in stray.output
    empty = loyalty("simulate", "-r", str(RETAIL), "--from-store", "--database-url",
                    service.database_url, "--from", "2030-01-01T00:00:00Z", "--to",
                    "2031-01-01T00:00:00Z")
    assert empty.exit_code == 1 and "no_recorded_history" in empty.output


def test_the_shadow_report_as_html_over_the_service(service, tmp_path):
    # the live version itself in shadow: any published version may be
    started = loyalty("shadow", "start", "retail", "1", key=service.admin_key, url=service.url)
    assert started.exit_code == 0, started.output
    try:
        html = tmp_path / "shadow.html"
        result = loyalty("shadow", "report", "retail", "-o", "html", "--report", str(html),
                         key=service.admin_key, url=service.url)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("<!DOCTYPE html>")
        page = html.read_text()
        assert "Shadow evaluation of retail version 1 on live traffic" in page
        # a shadow run has no member balances to check the books against
        assert "Books:" not in page and "NOT balanced" not in page
    finally:
        stopped = loyalty("shadow", "stop", "retail", key=service.admin_key, url=service.url)
        assert stopped.exit_code == 0, stopped.output
