"""Shared fixtures: the reference program, ruleset variants, a request builder, --update-golden."""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The suite's webhook receivers listen on loopback, which a deployment refuses by default
# (store/events/addresses.py); tests/events/test_private_addresses.py turns it back off.
os.environ.setdefault("LOYALTY_WEBHOOK_ALLOW_PRIVATE", "true")

from engine import load_program
from engine.program import Program

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files (tests/engine/golden/, "
                          "tests/simulate/golden/) from the current output")


@pytest.fixture(autouse=True, scope="module")
def _no_event_loop_left_running() -> Iterator[None]:
    """Fail a test module that leaves an event loop marked as running in the main thread
    once its fixtures are torn down: every later test of the same process that runs a loop
    there (`run_until_complete`, `asyncio.run`) would fail with "Cannot run the event loop
    while another loop is running", far from the cause. Playwright's synchronous API
    marks its loop running for as long as it is open, so a browser fixture lives no
    longer than its module. The mark is cleared so that only the culprit fails."""
    yield
    left = asyncio.events._get_running_loop()
    if left is not None:
        asyncio.events._set_running_loop(None)
        pytest.fail(f"the module left an event loop marked running in the main thread: {left!r}")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def retail() -> Program:
    return load_program(ROOT / "rulesets" / "retail")


_VARIANTS: dict[str, Program] = {}


@pytest.fixture(scope="session")
def variant(retail: Program) -> Callable[..., Program]:
    """`variant(change)` → a Program built from a deep copy of the retail data after
    `change(data)` edits it. Compiled rulesets live for the whole process in the rule
    engine, so keep the number of distinct variants small (a few dozen)."""

    def make(change: Callable[[dict[str, Any]], None]) -> Program:
        data = copy.deepcopy(dict(retail.data))
        change(data)
        program = Program.from_data(data)
        return _VARIANTS.setdefault(program.digest, program)

    return make


def make_request(lines: list[tuple[str, Any] | tuple[str, Any, int] | dict[str, Any]] = (),
                 *, tier: str | None = "gold", at: str = "2026-11-17T14:30:00-05:00",
                 shipping: Any = "0.00", balance: int = 0, state: dict | None = None,
                 attributes: dict | None = None, channel: str | None = "web",
                 redeem: dict | None = None, explain: bool = False,
                 context: dict | None = None) -> dict[str, Any]:
    """An evaluation request; a line is (category, unit_price[, quantity]) or a full dict.
    Defaults: a gold member on Tuesday 2026-11-17 (no campaign runs), web, no shipping."""
    out_lines = []
    for i, line in enumerate(lines):
        if isinstance(line, dict):
            out_lines.append({"sku": f"SKU-{i}", "quantity": 1, **line})
        else:
            category, price, *qty = line
            out_lines.append({"sku": f"SKU-{i}", "category": category,
                              "quantity": qty[0] if qty else 1, "unit_price": str(price)})
    member: dict[str, Any] = {"id": "M-1", "points_balance": balance,
                              "attributes": attributes or {}}
    if tier is not None:
        member["tier"] = tier
    if state is not None:
        member["state"] = state
    order: dict[str, Any] = {"id": "O-1", "placed_at": at, "currency": "USD",
                             "shipping": shipping, "lines": out_lines}
    if channel is not None:
        order["channel"] = channel
    req: dict[str, Any] = {"member": member, "order": order, "explain": explain}
    if redeem is not None:
        req["redeem"] = redeem
    if context is not None:
        req["context"] = context
    return req


@pytest.fixture(scope="session")
def req() -> Callable[..., dict[str, Any]]:
    return make_request


def check_invariants(result: dict[str, Any]) -> None:
    """What every result must satisfy (docs/semantics.md, the evaluation request and result)."""
    earn = result["earn"]
    assert sum(earn["by_rule"].values()) == earn["points"]
    assert sum(ln["points"] for ln in earn["lines"]) + sum(b["points"] for b in earn["bonuses"]) \
        == earn["points"]
    assert earn["points"] >= 0 and all(ln["points"] >= 0 for ln in earn["lines"])
    for ln in earn["lines"]:
        assert isinstance(ln["amount"], str) and isinstance(ln["eligible_amount"], str)
    if "order" in result:
        assert isinstance(result["order"]["subtotal"], str)
        assert isinstance(result["order"]["total"], str)


def check_trace(program: Program, result: dict[str, Any]) -> int:
    """Every trace entry that renders a rule-engine decision (it shows `facts`) says what
    the plain Python evaluation of the rule's condition says over those facts (a
    line-level rule: over each line's facts). Returns how many entries were checked."""
    from engine.rules.conditions import holds

    conditions = {**program.compiled.conditions, **program.questions.conditions()}
    checked = 0
    for entry in result.get("trace", []):
        if "facts" not in entry:
            continue
        cond = conditions[entry["rule"]]
        if isinstance(entry["facts"], list):  # a line-level rule: one fact per line
            lines = [i for i, facts in enumerate(entry["facts"]) if holds(cond, facts)]
            assert entry.get("lines", []) == lines and entry["fired"] == bool(lines), entry
        else:
            assert holds(cond, entry["facts"]) == entry["fired"], entry
        checked += 1
    return checked


@pytest.fixture(scope="session")
def run() -> Callable[..., dict[str, Any]]:
    """`run(program, request)` → `engine.evaluation.evaluate(...)`, with the invariants checked."""
    from engine import evaluate

    def go(program: Program, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        result = evaluate(program, request, **kw)
        check_invariants(result)
        return result

    return go
