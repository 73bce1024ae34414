"""`--compare`: doubling one category's multiplier doubles that category's points and
moves nothing else without cause."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from engine.program import Program
from tests.simulate.conftest import DOUBLE_HOME


def test_doubling_a_category(compare_doc: dict) -> None:
    doc = compare_doc
    other, delta = doc["compare"], doc["compare"]["delta"]
    home, home_b = doc["by_category"]["home"], other["by_category"]["home"]
    orders = doc["totals"]["orders"]
    assert abs(home_b - 2 * home) <= orders  # one point of order-level rounding at most
    for category, points in doc["by_category"].items():
        if category != "home":  # order rounding may move a point between lines, no more
            assert abs(other["by_category"][category] - points) <= orders * 0.01 + 5, category
    # the behaviour of members is the history's: same orders, spend, refunds, tiers
    for key in ("orders", "spend", "refunded", "upgrades", "downgrades"):
        assert delta["totals"][key] in (0, "0.00"), key
    assert other["tiers"] == doc["tiers"]
    assert delta["totals"]["points_issued"] > 0
    assert delta["by_rule"]["earning.categories.home"] > 0
    assert delta["by_rule"].get("earning.categories.electronics", 0) == 0
    changed = other["members_changed"]
    assert changed and all(m["delta"] > 0 for m in changed)
    # a tier change first, then the largest balance change, then net points
    ranks = {"bronze": 0, "silver": 1, "gold": 2, "platinum": 3}
    assert changed == sorted(changed, key=lambda m: (
        -abs(ranks[m["compare_tier"]] - ranks[m["tier"]]), -abs(m["balance_delta"]),
        -abs(m["delta"]), m["member_id"]))


def test_compare_from_the_cli(retail_copy: Callable[..., Program], history: Path,
                              tmp_path: Path) -> None:
    folder = Path(next(iter(retail_copy(DOUBLE_HOME).sources))).parent
    report = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["simulate", "-r", "rulesets/retail", "--compare",
                                      str(folder), "--history", str(history), "-o", "json",
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["compare"]["delta"]["by_category"]["home"] > 0
    assert "Version A vs B" in report.read_text()
