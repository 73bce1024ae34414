"""`loyalty evaluate` / `loyalty explain` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from tests import big_ruleset

ROOT = Path(__file__).resolve().parents[2]
RETAIL = str(ROOT / "rulesets" / "retail")
WEEKDAY = str(ROOT / "examples" / "requests" / "gold-weekday.json")
WEEKEND = str(ROOT / "examples" / "requests" / "gold-weekend.json")


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def _invoke(runner, *args):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_json_output_is_only_json(runner):
    result = _invoke(runner, "evaluate", "-r", RETAIL, "-i", WEEKDAY, "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)             # nothing but JSON on stdout
    assert data["earn"]["points"] == 300         # 100 × 2.0 × 1.5
    assert data["program"] == "retail" and "trace" not in data
    weekend = json.loads(_invoke(runner, "evaluate", "-r", RETAIL, "-i", WEEKEND,
                                 "-o", "json").stdout)
    assert weekend["earn"]["points"] == 600      # × 2.0 on the first Saturday


def test_text_output_has_the_table(runner):
    result = _invoke(runner, "evaluate", "-r", RETAIL, "-i", WEEKDAY)
    assert result.exit_code == 0
    out = result.stdout
    assert "Earned: 300 points" in out
    assert "TV-55" in out and "electronics" in out
    assert "redemption: eligible" in out


def test_explain_flag_shows_trace(runner):
    result = _invoke(runner, "evaluate", "-r", RETAIL, "-i", WEEKDAY, "--explain")
    assert result.exit_code == 0
    assert "Rules considered" in result.stdout
    assert "campaigns.fashion-week" in result.stdout
    data = json.loads(_invoke(runner, "evaluate", "-r", RETAIL, "-i", WEEKDAY, "--explain",
                              "-o", "json").stdout)
    assert any(e["rule"] == "campaigns.double-points-weekend" and not e["fired"]
               for e in data["trace"])


def test_explain_command(runner):
    result = _invoke(runner, "explain", "-r", RETAIL, "-i", WEEKEND)
    assert result.exit_code == 0
    assert "Rules considered" in result.stdout and "double-points-weekend" in result.stdout
    data = json.loads(_invoke(runner, "explain", "-r", RETAIL, "-i", WEEKEND, "-o", "json").stdout)
    entry = next(e for e in data["trace"] if e["rule"] == "campaigns.double-points-weekend")
    assert entry["fired"] is True and entry["points"] == 300


def test_stdin_input(runner):
    text = Path(WEEKDAY).read_text()
    result = runner.invoke(cli, ["evaluate", "-r", RETAIL, "-i", "-", "-o", "json"], input=text)
    assert result.exit_code == 0 and json.loads(result.stdout)["earn"]["points"] == 300


def _request(**order_changes):
    data = json.loads(Path(WEEKDAY).read_text())
    data["order"].update(order_changes)
    return data


def _line(**changes):
    data = json.loads(Path(WEEKDAY).read_text())
    data["order"]["lines"][0].update(changes)
    return data


def _member(**changes):
    data = json.loads(Path(WEEKDAY).read_text())
    data["member"].update(changes)
    return data


def _without_placed_at():
    data = json.loads(Path(WEEKDAY).read_text())
    del data["order"]["placed_at"]
    return data


BAD = {
    "bad-money": (_line(unit_price="12.3.4"), "$.order.lines[0].unit_price"),
    "unknown-tier": (_member(tier="diamond"), "$.member.tier"),
    "negative-quantity": (_line(quantity=-1), "$.order.lines[0].quantity"),
    "missing-placed-at": (_without_placed_at(), "$.order.placed_at"),
    "negative-shipping": (_request(shipping="-5.00"), "$.order.shipping"),
    "bad-instant": (_request(placed_at="yesterday"), "$.order.placed_at"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests(runner, tmp_path, case):
    body, path = BAD[case]
    file = tmp_path / f"{case}.json"
    file.write_text(json.dumps(body))
    result = runner.invoke(cli, ["evaluate", "-r", RETAIL, "-i", str(file), "-o", "json"])
    assert result.exit_code == 1                 # usage error (the documented exit codes)
    assert path in result.stderr
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.stdout == ""                   # no partial JSON
    assert not isinstance(result.exception, (TypeError, KeyError, ValueError, AttributeError))


def test_missing_file(runner, tmp_path):
    missing = str(tmp_path / "nope.json")
    result = runner.invoke(cli, ["evaluate", "-r", RETAIL, "-i", missing])
    assert result.exit_code != 0
    assert "nope.json" in result.stderr and "Traceback" not in result.stderr


def test_invalid_json_reports_line_and_column(runner, tmp_path):
    file = tmp_path / "broken.json"
    file.write_text('{\n  "member": {"id": "X",}\n}\n')   # trailing comma: line 2, col 24
    result = runner.invoke(cli, ["evaluate", "-r", RETAIL, "-i", str(file)])
    assert result.exit_code != 0
    assert f"{file}:2:24" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_ruleset_path(runner, tmp_path):
    result = runner.invoke(cli, ["evaluate", "-r", str(tmp_path / "no-such-ruleset"),
                                 "-i", WEEKDAY])
    assert result.exit_code == 3                 # invalid ruleset
    assert "no-such-ruleset" in result.stderr
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert not isinstance(result.exception, (TypeError, KeyError, ValueError, OSError))


def _misspelled() -> dict:
    data = json.loads(Path(WEEKDAY).read_text())
    data["member"]["tierr"] = data["member"].pop("tier")
    data["redeeem"] = data.pop("redeem")
    data["order"]["lines"][0]["discont"] = data["order"]["lines"][0].pop("discount")
    return data


def test_misspelled_keys_are_located_errors_not_a_bronze_quote(runner, tmp_path):
    file = tmp_path / "typos.json"
    file.write_text(json.dumps(_misspelled()))
    result = runner.invoke(cli, ["evaluate", "-r", RETAIL, "-i", str(file), "-o", "json"])
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert f"{file}: $.member.tierr: unknown field; did you mean 'tier'?" in lines
    assert f"{file}: $.redeeem: unknown field; did you mean 'redeem'?" in lines
    assert f"{file}: $.order.lines[0].discont: unknown field; did you mean 'discount'?" in lines
    assert lines[-1].endswith("invalid request (3 problem(s))")


def test_an_order_in_another_currency_is_refused(runner, tmp_path):
    file = tmp_path / "yen.json"
    file.write_text(json.dumps(_request(currency="JPY")))
    result = runner.invoke(cli, ["evaluate", "-r", RETAIL, "-i", str(file), "-o", "json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert (f"{file}: $.order.currency: the order is in JPY, but program retail counts in "
            "USD") in result.stderr


def test_two_thousand_rules_all_true_through_the_cli(tmp_path):
    # the validator's limit, every condition distinct and true for one cart (the design: at
    # most 2,000 campaigns and rules); before, past ~64 of them every quote failed (303)
    folder = big_ruleset.write(tmp_path / "big")
    request = tmp_path / "request.json"
    request.write_text(json.dumps(big_ruleset.REQUEST))
    result = CliRunner().invoke(cli, ["evaluate", "-r", str(folder), "-i", str(request),
                                      "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    bonus = big_ruleset.rule_bonus(json.loads(result.stdout))
    assert len(bonus) == big_ruleset.RULES
    assert sum(bonus.values()) == big_ruleset.EXPECTED_BONUS


def _retail_with_rule(folder: Path, rule: str) -> Path:
    folder.mkdir()
    for f in (ROOT / "rulesets" / "retail").glob("*.yaml"):
        (folder / f.name).write_text(f.read_text() if f.name != "rules.yaml"
                                     else f"rules:\n  - {rule}\n")
    return folder


def test_a_threshold_beyond_double_precision_is_compared_exactly(runner, tmp_path):
    # 99.99999999999999999 is 100.0 as a double: the engine used to decide the first line
    # (100) "not > threshold" and cache that for the key of "> threshold", so the second
    # line (150) got nothing. (Prices have at most 4 decimal places by the input contract;
    # a ruleset's thresholds may have any.)
    folder = _retail_with_rule(tmp_path / "rs", '{id: price, when: {field: line.unit_price, '
                               'gt: "99.99999999999999999"}, then: [{bonus_points: 7}]}')
    request = json.loads(Path(WEEKDAY).read_text())
    request["order"]["lines"] = [
        {"sku": "A", "category": "home", "quantity": 1, "unit_price": "100"},
        {"sku": "B", "category": "home", "quantity": 1, "unit_price": "150"},
        {"sku": "C", "category": "home", "quantity": 1, "unit_price": "99.99"}]
    (tmp_path / "r.json").write_text(json.dumps(request))
    result = _invoke(runner, "evaluate", "-r", str(folder), "-i", str(tmp_path / "r.json"),
                     "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["earn"]["by_rule"]["rules.price"] == 14


def test_simulated_histories_compare_prices_exactly(tmp_path):
    from engine.simulation.simulate import simulate

    folder = _retail_with_rule(tmp_path / "rs", '{id: price, when: {field: line.unit_price, '
                               'gt: "99.99999999999999999"}, then: [{bonus_points: 7}]}')
    orders = []
    for i, price in enumerate(["100", "150", "99.99"]):
        orders.append({"type": "order", "member_id": "M1", "at": f"2026-03-0{i + 2}T12:00:00Z",
                       "order": {"id": f"O{i}", "placed_at": f"2026-03-0{i + 2}T12:00:00Z",
                                 "lines": [{"sku": "A", "category": "home", "quantity": 1,
                                            "unit_price": price}]}})
    history = tmp_path / "h.jsonl"
    history.write_text("".join(json.dumps(o) + "\n" for o in orders))
    report = simulate(folder, history)
    assert report["by_rule"]["rules.price"] == 14
