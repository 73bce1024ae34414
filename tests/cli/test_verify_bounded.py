"""Rulesets crafted to make verify's enumeration explode are refused at once, with the
figures that multiply (by `loyalty verify`, and as a located error by `validate` when the
ruleset declares invariants), instead of running for hours."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

from tests.cli.test_verify_cmd import INVARIANTS, draft, run


def many_contexts(n: int = 30) -> str:
    """Campaigns each naming its own channel, segment, min_order and category: billions
    of contexts (days × tiers × channels × segment sets × levels × categories)."""
    out = []
    for i in range(n):
        start = date(2026, 1, 1) + timedelta(days=20 * i)
        out.append(f"""
  - id: crafted-{i}
    name: Crafted {i}
    type: multiplier
    multiplier: 2.0
    schedule: {{from: "{start}", to: "{start + timedelta(days=10)}"}}
    eligibility: {{segments: [s{i % 8}], channels: [ch{i}], min_order: "{10 + i}.00"}}
    categories: [cat{i}]
""")
    return "".join(out)


def long_calendar(n: int = 32) -> str:
    """Monthly campaigns starting 30 years apart: every piece of the calendar scanned over
    a 28-year cycle for ever more campaigns (millions of day checks)."""
    return "".join(f"""
  - id: decades-{i}
    name: Decades {i}
    type: multiplier
    multiplier: 1.5
    schedule: {{from: "{2026 + 30 * i}-01-01", to: "2999-12-31",
               monthly: {{nth: 2, weekday: sunday, days: 1}}}}
""" for i in range(n))


def refused(path: str, expected: str) -> None:
    started = time.monotonic()
    result = run("verify", path)
    assert time.monotonic() - started < 10
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert expected in result.output and "takes at most" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_too_many_contexts_are_refused_at_once(tmp_path: Path) -> None:
    path = draft(tmp_path, many_contexts(), invariants="")
    refused(path, "verify would examine 2,893,148,160 contexts (84 day classes × 4 tiers × "
                  "31 channels × 256 segment sets × 31 order-total levels × 34 categories)")


def test_a_calendar_too_long_to_scan_is_refused_at_once(tmp_path: Path) -> None:
    path = draft(tmp_path, long_calendar(), invariants="")
    refused(path, "day checks")


def test_validate_locates_the_refusal_at_the_invariants(tmp_path: Path) -> None:
    path = draft(tmp_path, many_contexts(), invariants=INVARIANTS)
    started = time.monotonic()
    result = run("validate", path)
    assert time.monotonic() - started < 10
    assert result.exit_code == 3, result.output
    assert (f"{path}/invariants.yaml:1:1: $.invariants: the invariants cannot be verified: "
            "verify would examine") in result.output, result.output
