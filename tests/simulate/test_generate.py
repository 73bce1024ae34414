"""`loyalty generate`: reproducible, valid, realistic enough."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from engine.simulation.generate import generate
from engine.simulation.history import check_event
from schemas import exact, validator


def _text(**kw: object) -> str:
    out = io.StringIO()
    args: dict[str, object] = {"members": 100, "events": 3000, "seed": 5,
                               "start": date(2026, 1, 1), "end": date(2026, 12, 31)}
    args.update(kw)
    generate(out, **args)  # type: ignore[arg-type]
    return out.getvalue()


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert _text() == _text()
    assert _text() != _text(seed=6)


def test_cli_writes_the_same_file(tmp_path: Path) -> None:
    out = tmp_path / "h.jsonl"
    result = CliRunner().invoke(cli, ["generate", "--members", "100", "--events", "3000",
                                      "--seed", "5", "--start", "2026-01-01", "--end",
                                      "2026-12-31", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == _text()


def test_exact_count_valid_events_in_time_order() -> None:
    lines = _text().splitlines()
    assert len(lines) == 3000
    event_schema = validator("event")
    last = None
    for number, line in enumerate(lines, start=1):
        data = json.loads(line)
        if number <= 400:
            event_schema.validate(exact(data))
        event = check_event(data, number)
        assert last is None or event.at >= last
        last = event.at


def test_realistic_mix() -> None:
    events = [json.loads(line) for line in _text(members=300, events=20000).splitlines()]
    kinds = Counter(e["type"] for e in events)
    assert kinds["enroll"] == 300
    assert 0.03 < kinds["refund"] / kinds["order"] < 0.08
    assert kinds["redemption"] > 0 and kinds["activity"] > 0
    activities = Counter(e["activity"] for e in events if e["type"] == "activity")
    assert activities["product_review"] and activities["referral"]
    days = Counter(datetime.fromisoformat(e["at"]).strftime("%A") for e in events
                   if e["type"] == "order")
    assert days["Saturday"] > 1.2 * days["Tuesday"]
    months = Counter(e["at"][5:7] for e in events if e["type"] == "order")
    assert months["12"] > 1.3 * months["02"]
    spend = Counter()
    for e in events:
        if e["type"] == "order":
            spend[e["member_id"]] += sum(float(line["unit_price"]) * line["quantity"]
                                         for line in e["order"]["lines"])
    ranked = sorted(spend.values(), reverse=True)
    top = sum(ranked[: len(ranked) // 10])
    assert top > 0.3 * sum(ranked)  # heavy tail: the top 10 % spend far more than 10 %
