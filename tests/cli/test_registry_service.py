"""The registry commands against a real `loyalty serve` on loopback, run from a clean folder
as a program manager would: publish → approve with a second key → activate → rollback, the
refusals, the dry run and the audit log; and nothing is written to the folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.api.server import create_key, free_port, running_server
from tests.store.db_support import scratch_database

RETAIL = Path(__file__).resolve().parents[2] / "rulesets" / "retail"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("service")
    with scratch_database(tmp) as database_url, running_server(database_url, tmp, workers=1) as srv:
        yield srv


def loyalty(cwd: Path, key: str | None, *args: str, url: str | None = None):
    """The CLI in `cwd`, with the service URL and key from the environment."""
    env = {"LOYALTY_URL": url, "LOYALTY_KEY": key, "LOYALTY_DATABASE_URL": None}
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(here)


def retail_v2(folder: Path) -> Path:
    target = folder / "retail"
    shutil.copytree(RETAIL, target, ignore=shutil.ignore_patterns("tests"))
    program = target / "program.yaml"
    program.write_text(program.read_text().replace("version: 1", "version: 2")
                       + "approvals:\n  required: 1\n")
    earning = target / "earning.yaml"
    earning.write_text(earning.read_text().replace("electronics: 2.0", "electronics: 3.0"))
    return target


def test_a_program_manager_publishes_gets_approval_activates_and_rolls_back(service, tmp_path):
    work = tmp_path / "pm"
    work.mkdir()
    folder = retail_v2(work)
    ana = create_key(service.database_url, "admin")
    ben = create_key(service.database_url, "admin")
    viewer = create_key(service.database_url, "viewer")

    def run(key: str | None, *args: str):
        return loyalty(work, key, *args, url=service.url)

    refused = run(service.key, "publish", str(folder))  # a checkout key
    assert refused.exit_code == 1 and "forbidden_scope" in refused.output

    published = run(ana, "publish", str(folder), "-m", "electronics x3")
    assert published.exit_code == 0, published.output
    assert "published: retail version 2 sha256:" in published.output
    assert ("program.yaml:8:17: $.effective_from: warning[effective_from_unchanged]: "
            "effective_from 2026-01-01T00:00:00-05:00 is the same as version 1's (hint: "
            "change it") in published.output

    early = run(ana, "activate", "retail", "2")
    assert early.exit_code == 1
    assert early.output.startswith("error: approvals_required: retail version 2 needs 1")
    own = run(ana, "approve", "retail", "2")
    assert own.exit_code == 1 and "self_approval" in own.output

    plan = run(ana, "activate", "retail", "2", "--dry-run")
    assert plan.exit_code == 1, plan.output
    assert "dry run: nothing was changed" in plan.output
    assert "would be live from" in plan.output and "live now: version 1" in plan.output
    assert "published by key:lrk_" in plan.output and ": electronics x3" in plan.output
    assert "approvals: 0 of 1 approval(s), 1 missing" in plan.output
    assert "~ earning.categories.electronics: value 2 → 3" in plan.output
    assert "would be refused: approvals_required" in plan.output

    approved = run(ben, "approve", "retail", "2", "-m", "diff read")
    assert approved.exit_code == 0, approved.output
    assert "1 of 1 approval(s), ready to activate" in approved.output

    live = run(ana, "activate", "retail", "2")
    assert live.exit_code == 0 and "retail version 2 live from" in live.output
    again = run(ana, "activate", "retail", "2")
    assert again.exit_code == 0 and "already live" in again.output

    listed = json.loads(run(viewer, "rulesets", "list", "--program", "retail", "--json").output)
    assert listed["programs"][0]["live_version"] == 2
    diff = run(viewer, "diff", "retail@1", "retail@2")
    assert "~ earning.categories.electronics: value 2 → 3" in diff.output
    assert "~ earning.categories.electronics" in run(viewer, "diff", "retail@1", str(folder)).output
    shown = json.loads(run(viewer, "rulesets", "show", "retail", "2").output)
    assert shown["approvals"]["approved_by"][0]["message"] == "diff read"
    no_write = run(viewer, "activate", "retail", "1")
    assert no_write.exit_code == 1 and "forbidden_scope" in no_write.output

    # Rollback: version 2's requirement still counts, so version 1 needs an approval too.
    assert run(ana, "activate", "retail", "1").exit_code == 1
    assert run(ben, "approve", "retail", "1").exit_code == 0
    back = run(ana, "activate", "retail", "1")
    assert back.exit_code == 0 and "retail version 1 live from" in back.output

    page = json.loads(run(ana, "audit", "--program", "retail", "--limit", "3", "--json").output)
    assert [e["action"] for e in page["entries"]] == [
        "ruleset.rollback", "ruleset.approve", "ruleset.activate"]
    rest = json.loads(run(ana, "audit", "--program", "retail", "--cursor", page["next_cursor"],
                          "--json").output)
    actions = [e["action"] for e in rest["entries"]]
    assert actions == ["ruleset.approve", "ruleset.publish", "ruleset.activate",
                       "ruleset.publish"] and rest["next_cursor"] is None
    assert rest["entries"][-2]["detail"]["approvals"].startswith("exempt")  # the bootstrap
    text = run(ana, "audit", "--action", "ruleset.approve", "--program", "retail")
    assert text.exit_code == 0 and text.output.count("ruleset.approve") == 2
    assert "more: --cursor" not in text.output
    assert run(viewer, "audit").exit_code == 1
    assert "--author applies with --database-url only" in run(
        ana, "approve", "retail", "2", "--author", "someone").output

    assert sorted(p.name for p in work.iterdir()) == ["retail"]  # no database appeared


def test_an_invalid_ruleset_exits_3_with_located_errors(service, tmp_path):
    folder = retail_v2(tmp_path)
    program = folder / "program.yaml"
    program.write_text(program.read_text().replace("required: 1", "required: 0"))
    result = loyalty(tmp_path, create_key(service.database_url, "admin"), "publish", str(folder),
                     url=service.url)
    assert result.exit_code == 3
    assert "program.yaml:" in result.output and "$.approvals.required" in result.output


def test_unreachable_service_and_missing_key_are_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    down = loyalty(tmp_path, "lrk_x", "rulesets", "list", url=url)
    assert down.exit_code == 1
    assert down.output.strip().splitlines() == [
        (f"error: cannot reach the loyalty service at {url} (ConnectError); start it with "
        "`loyalty serve`, or pass --url / LOYALTY_URL (a database directly: --database-url)")]
    default = loyalty(tmp_path, "lrk_x", "rulesets", "list", "--url", url)
    assert default.exit_code == 1 and "cannot reach" in default.output
    no_key = loyalty(tmp_path, None, "activate", "retail", "1", url=url)
    assert no_key.exit_code == 1 and "no API key: set LOYALTY_KEY" in no_key.output
    assert list(tmp_path.iterdir()) == []
