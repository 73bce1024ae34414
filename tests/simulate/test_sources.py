"""Histories in Parquet and in shards replay exactly as the one JSON Lines file they hold."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.program import Program
from engine.simulation.history import Event, EventError
from engine.simulation.simulate import count_lines, simulate
from engine.simulation.sources import HistoryUnreadable, read_history, resolve

RETAIL = str(Path(__file__).resolve().parents[2] / "rulesets" / "retail")
GENERATE = ["generate", "--members", "120", "--events", "2500", "--seed", "5", "--lifecycle"]


def _generate(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / args[-1]
    result = CliRunner().invoke(cli, [*GENERATE, *args[:-1], "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("sources")
    return {"jsonl": _generate(tmp, "h.jsonl"),
            "parquet": _generate(tmp, "--format", "parquet", "h.parquet"),
            "shards": _generate(tmp, "--format", "parquet", "--shards", "3", "shards")}


def _events(spec: str | Path) -> list[tuple[int, str, str]]:
    return [(e.line, e.member_id, e.data["at"]) for e in read_history(spec)
            if isinstance(e, Event)]


def test_parquet_rows_are_the_json_lines(histories: dict[str, Path]) -> None:
    table = pq.read_table(histories["parquet"])
    assert table.column_names == ["type", "member_id", "at", "event"]
    lines = histories["jsonl"].read_text().splitlines()
    assert table.column("event").to_pylist() == lines
    assert table.column("member_id").to_pylist() == [json.loads(x)["member_id"] for x in lines]
    assert sorted(p.name for p in histories["shards"].iterdir()) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in resolve(histories["shards"])]
    assert sizes == [834, 834, 832]  # consecutive events, ceil(2500 / 3) a shard


def test_every_form_reads_the_same_events_on_the_same_lines(histories: dict[str, Path]) -> None:
    events = _events(histories["jsonl"])
    assert len(events) == 2500
    glob = str(histories["shards"] / "part-*.parquet")
    for spec in (histories["parquet"], histories["shards"], glob):
        assert _events(spec) == events
        assert count_lines(spec) == 2500


@pytest.mark.parametrize("workers", [1, 2])
def test_reports_are_identical(histories: dict[str, Path], retail: Program,
                               workers: int) -> None:
    base = json.dumps(simulate(retail, histories["jsonl"]), sort_keys=True)
    for spec in (histories["parquet"], histories["shards"]):
        assert json.dumps(simulate(retail, spec, workers=workers), sort_keys=True) == base


def test_shards_of_json_lines_continue_the_line_numbers(tmp_path: Path) -> None:
    """A directory of JSON Lines shards: the second shard's bad line is reported under its
    number in the whole history."""
    (tmp_path / "a.jsonl").write_text(
        '{"type": "enroll", "member_id": "M1", "at": "2026-03-01T10:00:00-05:00"}\n'
        '{"type": "enroll", "member_id": "M2", "at": "2026-03-01T11:00:00-05:00"}')  # no \n
    (tmp_path / "b.jsonl").write_text(
        '{"type": "enroll", "member_id": "M3", "at": "2026-03-02T10:00:00-05:00"}\n{oops\n')
    items = list(read_history(tmp_path))
    assert [i.line for i in items] == [1, 2, 3, 4]
    assert isinstance(items[3], EventError) and "not valid JSON" in items[3].message


def test_a_parquet_row_without_event_is_an_error_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "h.parquet"
    good = '{"type": "enroll", "member_id": "M1", "at": "2026-03-01T10:00:00-05:00"}'
    pq.write_table(pa.table({"member_id": ["M1", "M2"], "event": [good, None]}), path)
    first, second = read_history(path)
    assert isinstance(first, Event) and first.member_id == "M1"
    assert isinstance(second, EventError) and second.line == 2
    assert "`event` is empty" in second.message


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b"junk"), "not a readable Parquet file"),
    (lambda p: pq.write_table(pa.table({"member_id": ["M1"]}), p),
     "a Parquet history needs the column `event`"),
])
def test_unreadable_parquet_is_named(tmp_path: Path, retail: Program, make, message) -> None:
    path = tmp_path / "h.parquet"
    make(path)
    with pytest.raises(HistoryUnreadable, match=message):
        simulate(retail, path)
    result = CliRunner().invoke(cli, ["simulate", "-r", RETAIL, "--history",
                                      str(path), "-o", "json"])
    assert result.exit_code != 0 and str(path) in result.output and message in result.output
    assert "Traceback" not in result.output


def test_history_naming_nothing_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for spec, message in ((tmp_path / "missing.jsonl", "no such file or directory"),
                          (tmp_path / "empty", "holds no history file"),
                          (tmp_path / "*.parquet", "no file matches")):
        result = CliRunner().invoke(cli, ["simulate", "-r", RETAIL, "--history",
                                          str(spec)])
        assert result.exit_code != 0 and message in result.output, result.output


def test_generate_parquet_needs_an_out_and_shards_need_parquet(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [*GENERATE, "--format", "parquet"])
    assert result.exit_code == 2 and "--format parquet needs --out" in result.output
    result = CliRunner().invoke(cli, [*GENERATE, "--shards", "2", "--out",
                                      str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2 and "--shards goes with --format parquet" in result.output
