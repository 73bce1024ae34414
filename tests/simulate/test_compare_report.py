"""Compare reports show every rule and campaign of either version, labelled by version,
and tell apart two copies that carry the same version number — in JSON, text and HTML."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.program import Program
from engine.simulation.report import render
from tests.simulate.conftest import DOUBLE_HOME, DRAFT

ONLY_OLD = {"earning.categories.fashion", "campaigns.fashion-week"}  # removed by the draft
ONLY_NEW = {"campaigns.home-month", "campaigns.summer-2030"}  # added by the draft


def _folder(program: Program) -> str:
    return str(Path(next(iter(program.sources))).parent)


def _simulate_cli(*args: str) -> str:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(cli, ["simulate", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _rows(html: str, table: str) -> dict[str, list[str]]:
    """Rows of an HTML table by their first cell's text: the other cells' texts."""
    body = html[html.index(f'<table id="{table}">'):]
    body = body[:body.index("</table>")]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL):
        cells = [unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def test_json_names_every_rule_and_campaign_with_its_version(draft_doc: dict[str, Any]) -> None:
    versions = draft_doc["compare"]["versions"]
    assert versions["labels"] == {"base": "retail v1", "compare": "retail v2"}
    for rule in ONLY_OLD:
        assert versions["rules"][rule] == "base", rule
    for rule in ONLY_NEW:
        assert versions["rules"][rule] == "compare", rule
    assert versions["rules"]["earning.categories.home"] == "both"
    assert versions["rules"]["tiers.gold.upgrade_bonus"] == "both"  # a part of tiers.gold
    # a rule of both versions that credited nothing is still "both", not missing
    assert versions["rules"]["earning.activities.birthday"] == "both"
    assert versions["campaigns"] == {
        "double-points-weekend": "both", "fashion-week": "base", "home-month": "compare",
        "refer-a-friend": "both", "summer-2030": "compare", "tier-up-challenge": "both"}
    # every campaign of a version is in its own figures, even one that earned nothing
    assert draft_doc["compare"]["campaigns"]["summer-2030"]["points"] == 0
    assert draft_doc["compare"]["campaigns"]["home-month"]["points"] > 0
    assert draft_doc["compare"]["by_rule"]["campaigns.home-month"] > 0
    assert "fashion-week" not in draft_doc["compare"]["campaigns"]
    assert set(draft_doc["campaigns"]) == {"double-points-weekend", "fashion-week",
                                           "refer-a-friend", "tier-up-challenge"}


def test_text_report_lists_rules_and_campaigns_of_both_versions(
        retail_copy: Callable[..., Program], history: Path) -> None:
    text = _simulate_cli("-r", "rulesets/retail", "--compare", _folder(retail_copy(DRAFT)),
                         "--history", str(history))
    lines = {line.split("│")[1].strip(): line for line in text.splitlines()
             if line.count("│") >= 3}
    assert "Simulation of retail v1 compared with retail v2" in text
    for rule in ONLY_NEW | {"home-month", "summer-2030"}:
        assert "only in retail v2" in lines[rule], rule
    for rule in ONLY_OLD | {"fashion-week"}:
        assert "only in retail v1" in lines[rule], rule
    assert "both" in lines["earning.categories.home"]
    new_campaign = [c.strip() for c in lines["campaigns.home-month"].split("│")[1:-1]]
    assert new_campaign[2] == "—" and int(new_campaign[3]) > 0  # nothing in v1, points in v2


def test_html_report_lists_rules_and_campaigns_of_both_versions(
        draft_doc: dict[str, Any]) -> None:
    html = render(draft_doc)
    rules = _rows(html, "by-rule")
    assert set(rules) == set(draft_doc["compare"]["versions"]["rules"])
    assert rules["campaigns.home-month"][:2] == ["only in retail v2", "—"]
    assert rules["earning.categories.fashion"][0] == "only in retail v1"
    assert rules["earning.categories.fashion"][2] == "—"
    campaigns = _rows(html, "campaigns")
    assert set(campaigns) == {"double-points-weekend", "fashion-week", "home-month",
                              "refer-a-friend", "summer-2030", "tier-up-challenge"}
    assert campaigns["home-month"][0] == "only in retail v2"
    assert campaigns["home-month"][1] == "not in this version"
    assert campaigns["fashion-week"][0] == "only in retail v1"
    assert campaigns["fashion-week"][-1] == "not in this version"
    points_b = campaigns["summer-2030"][-3]
    assert points_b == "0"


def test_same_version_numbers_are_told_apart(compare_doc: dict[str, Any],
                                             retail_copy: Callable[..., Program],
                                             history: Path) -> None:
    """retail v1 against an edited copy of retail v1 (home multiplier doubled)."""
    versions = compare_doc["compare"]["versions"]
    base, other = versions["labels"]["base"], versions["labels"]["compare"]
    assert base != other and base.startswith("retail v1 (") and other.startswith("retail v1 (")
    assert compare_doc["program"]["source"] in base
    assert compare_doc["compare"]["program"]["source"] in other
    html = render(compare_doc)
    header = unescape(re.search(r'<p id="versions">(.*?)</p>', html, re.DOTALL).group(1))
    assert base in header and other in header
    legends = [unescape(t) for t in re.findall(
        r'<g class="legend">.*?<text[^>]*>(.*?)</text></g>', html, re.DOTALL)]
    assert legends.count(base) == 3 and legends.count(other) == 3  # three charts compare
    table = html[html.index('<table id="by-rule">'):]
    assert f"<th>{base}</th><th>{other}</th>" in unescape(table[:table.index("</tr>")])
    folder = _folder(retail_copy(DOUBLE_HOME))
    text = _simulate_cli("-r", "rulesets/retail", "--compare", folder,
                         "--history", str(history))
    assert "retail v1 (rulesets/retail)" in text and f"retail v1 ({folder})" in text


def test_same_version_without_paths_is_told_apart_by_digest(compare_doc: dict[str, Any]
                                                            ) -> None:
    doc = json.loads(json.dumps(compare_doc, default=str))
    doc["program"]["source"] = doc["compare"]["program"]["source"] = None
    del doc["compare"]["versions"]
    html = render(doc)
    for program in (doc["program"], doc["compare"]["program"]):
        assert f"retail v1 ({program['digest'][:19]})" in unescape(html)


@pytest.mark.parametrize("output", ["text", "json", "html"])
def test_without_compare_nothing_is_labelled(history: Path,
                                             output: str) -> None:
    out = _simulate_cli("-r", "rulesets/retail", "--history", str(history), "-o", output)
    assert "only in" not in out and "both" not in out.replace("books_balance", "")
