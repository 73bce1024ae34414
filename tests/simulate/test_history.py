"""Invalid events are reported by line number: skipped and counted, or fatal."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.main import cli
from engine.simulation.history import EventError, _loads, read_events

GOOD_ORDER = {"type": "order", "member_id": "M1", "at": "2026-03-10T10:00:00-04:00",
              "order": {"id": "O1", "lines": [{"sku": "A", "category": "books", "quantity": 1,
                                               "unit_price": "10.00"}]}}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _bad_history(tmp_path: Path) -> Path:
    second = dict(GOOD_ORDER, order=dict(GOOD_ORDER["order"], id="O2"),
                  at="2026-03-11T10:00:00-04:00")
    return _write(tmp_path, [
        json.dumps({"type": "enroll", "member_id": "M1", "at": "2026-03-01T10:00:00-05:00"}),
        "{not json",
        json.dumps(GOOD_ORDER),
        json.dumps({"type": "purchase", "member_id": "M1", "at": "2026-03-10T11:00:00-04:00"}),
        json.dumps({**GOOD_ORDER, "at": "2026-03-10"}),
        json.dumps(second),
        json.dumps({"type": "refund", "member_id": "M1", "at": "2026-03-12T10:00:00-04:00",
                    "order_id": "NOPE"}),
        json.dumps({"type": "redemption", "member_id": "M1", "at": "2026-03-12T11:00:00-04:00"}),
    ])


def test_reader_reports_line_numbers(tmp_path: Path) -> None:
    items = list(read_events(_bad_history(tmp_path)))
    errors = {e.line: e.message for e in items if isinstance(e, EventError)}
    assert set(errors) == {2, 4, 5, 8}
    assert "not valid JSON" in errors[2]
    assert "unknown event type 'purchase'" in errors[4]
    assert "UTC offset" in errors[5]
    assert "exactly one of" in errors[8]


def test_simulate_skips_and_counts(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "-r", "rulesets/retail", "--history",
                                      str(_bad_history(tmp_path)), "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["events"]["processed"] == 3 and doc["events"]["rejected"] == 5
    lines = [e["line"] for e in doc["events"]["errors"]]
    assert lines == [2, 4, 5, 7, 8]
    assert "NOPE" in doc["events"]["errors"][3]["message"]


def test_simulate_fails_on_the_first_bad_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "-r", "rulesets/retail", "--history",
                                      str(_bad_history(tmp_path)), "--on-error", "fail",
                                      "--workers", "2"])
    assert result.exit_code == 1
    assert "line 2: not valid JSON" in result.output


def test_csv_orders(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("member_id,order_id,placed_at,category,quantity,unit_price,sku\n"
                    "M1,O1,2026-03-10T10:00:00-04:00,electronics,1,100.00,TV\n"
                    "M1,O1,2026-03-10T10:00:00-04:00,books,2,10.00,BK\n"
                    "M2,O2,2026-03-10T11:00:00-04:00,fashion,1,xx,SH\n"
                    "M2,O3,2026-03-11T11:00:00-04:00,fashion,1,40.00,SH\n")
    items = list(read_events(path))
    assert [type(i).__name__ for i in items] == ["Event", "EventError", "Event"]
    assert len(items[0].data["order"]["lines"]) == 2 and items[1].line == 4
    result = CliRunner().invoke(cli, ["simulate", "-r", "rulesets/retail", "--history", str(path),
                                      "-o", "json"])
    doc = json.loads(result.stdout)
    # two members enrolled implicitly; first purchases: 200 + 200; 100x2 + 20 + 40x1.5
    assert doc["members_enrolled_implicitly"] == 2
    assert doc["by_category"] == {"books": 20, "electronics": 200, "fashion": 60}


def test_shipped_example_histories_replay_cleanly() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "histories"
    for name in ("retail-small.jsonl", "orders.csv"):
        result = CliRunner().invoke(cli, ["simulate", "-r", "rulesets/retail", "--history",
                                          str(root / name), "-o", "json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["events"]["rejected"] == 0 and doc["totals"]["books_balance"], name


def test_an_order_in_another_currency_is_a_rejected_event(tmp_path: Path) -> None:
    yen = dict(GOOD_ORDER, order=dict(GOOD_ORDER["order"], id="O2", currency="JPY"),
               at="2026-03-11T10:00:00-04:00")
    history = _write(tmp_path, [
        json.dumps({"type": "enroll", "member_id": "M1", "at": "2026-03-01T10:00:00-05:00"}),
        json.dumps(GOOD_ORDER), json.dumps(yen)])
    result = CliRunner().invoke(cli, ["simulate", "-r", "rulesets/retail", "--history",
                                      str(history), "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["events"]["processed"] == 2 and doc["events"]["rejected"] == 1
    (error,) = doc["events"]["errors"]
    assert error["line"] == 3
    assert error["message"].startswith("$.order.currency: the order is in JPY, but program "
                                       "retail counts in USD")


def test_instants_read_share_one_offset_object_and_keep_their_text(tmp_path: Path) -> None:
    # The simulator keeps the instants it reads in lots and order records: one tzinfo object
    # per UTC offset instead of a new one (and its timedelta) per instant.
    elsewhere = dict(GOOD_ORDER["order"], id="O3", placed_at="2026-03-12T15:00:00+01:00")
    path = _write(tmp_path, [
        json.dumps(GOOD_ORDER),
        json.dumps(dict(GOOD_ORDER, order=dict(GOOD_ORDER["order"], id="O2"),
                        at="2026-03-11T09:30:00-04:00")),
        json.dumps(dict(GOOD_ORDER, order=elsewhere, at="2026-03-12T10:00:00-04:00")),
        json.dumps({"type": "enroll", "member_id": "M2", "at": "2026-01-05T10:00:00-05:00"}),
    ])
    first, second, third, enroll = read_events(path)
    assert not isinstance(first, EventError) and not isinstance(second, EventError)
    assert not isinstance(third, EventError) and not isinstance(enroll, EventError)
    assert [e.at.isoformat() for e in (first, second, third, enroll)] == [
        "2026-03-10T10:00:00-04:00", "2026-03-11T09:30:00-04:00", "2026-03-12T10:00:00-04:00",
        "2026-01-05T10:00:00-05:00"]
    assert first.at.tzinfo is second.at.tzinfo is third.at.tzinfo
    assert enroll.at.tzinfo is not first.at.tzinfo
    # An order placed at its event's instant holds that very object; one written with
    # another offset (the same instant here) keeps its own offset and text.
    assert first.parts[0].placed_at is first.at
    placed = third.parts[0].placed_at
    assert placed == third.at and placed.isoformat() == "2026-03-12T15:00:00+01:00"


# Any JSON document, with the numbers the two decoders are known to read differently:
# integers beyond 64 bits, floats, and texts with escapes.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**80, max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_a_line_decodes_as_json_decodes_it(value: object) -> None:
    """The reader decodes with orjson where it can (history.py `_loads`); what it reads
    must be exactly what `json.loads` reads: values and types."""
    text = json.dumps(value)
    got, want = _loads(text), json.loads(text)
    assert got == want and repr(got) == repr(want)


def test_what_orjson_refuses_is_read_or_refused_as_json_does(tmp_path: Path) -> None:
    head = '{"type": "adjust", "member_id": "M1", "at": "2026-03-01T10:00:00-05:00", '
    lines = [head + '"points": 123456789012345678901234567890}', head + '"points": NaN}',
             '\ufeff{"type": "enroll"}', '{"type": "enroll", "member_id": "\\ud800"}',
             '[1e400]']
    for line in lines:
        try:
            want: object = json.loads(line)
        except json.JSONDecodeError as exc:
            want = ("error", exc.msg, exc.colno)
        try:
            got: object = _loads(line)
        except json.JSONDecodeError as exc:
            got = ("error", exc.msg, exc.colno)
        assert repr(got) == repr(want), line
    errors = [str(item) for item in read_events(_write(tmp_path, lines[:3]))
              if isinstance(item, EventError)]
    assert errors[2] == ("line 3: not valid JSON: Unexpected UTF-8 BOM (decode using "
                         "utf-8-sig) (column 1)")
    assert "points" in errors[0] and "points" in errors[1]
