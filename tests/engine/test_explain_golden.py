"""Golden files for the explain output of a handful of example requests.

Each `tests/engine/golden/<example>.json` holds the full result (with its `trace`) of
evaluating `examples/requests/<example>.json` against `rulesets/retail` with
`explain: true`. After an intended change, rewrite them with

    pytest tests/engine/test_explain_golden.py --update-golden

and review the diff like code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import evaluate

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = ["gold-weekday", "gold-weekend", "platinum-fashion-week", "bronze-gift-card",
            "gold-reward-201-refused", "bronze-first-purchase"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_explain_matches_golden(retail, update_golden, name):
    request = json.loads((ROOT / "examples" / "requests" / f"{name}.json").read_text())
    result = evaluate(retail, request, explain=True)
    text = json.dumps(result, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if update_golden:
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} missing: run pytest --update-golden"
    expected = json.loads(path.read_text(encoding="utf-8"))
    actual = json.loads(text)
    # compare the trace first: the most readable failure
    assert actual["trace"] == expected["trace"]
    assert actual == expected


def test_golden_trace_covers_every_rule(retail):
    # every compiled rule id appears in the trace of the weekday example
    request = json.loads((ROOT / "examples" / "requests" / "gold-weekday.json").read_text())
    rules = {e["rule"] for e in evaluate(retail, request, explain=True)["trace"]}
    assert set(retail.compiled.conditions) <= rules
    assert {"earning.base", "tiers.gold", "redemption"} <= rules
