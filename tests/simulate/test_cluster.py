"""`--cluster`: a local Dask cluster of two worker processes gives the `--workers 1`
report, byte for byte, shared budgets and stock included."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import engine.simulation.cluster as cluster_module
from cli.main import cli
from engine.program import Program, load_program
from engine.simulation.cluster import ClusterUnavailable
from engine.simulation.simulate import simulate
from tests.differential.test_campaign_codes import campaign_history, codes_csv
from tests.simulate.test_parallel import BUDGETED
from tests.store.campaign_program import campaign_sources

distributed = pytest.importorskip("distributed")
RETAIL = str(Path(__file__).resolve().parents[2] / "rulesets" / "retail")


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def lifecycle_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every event type: holds, cancels and refunds give budget and stock back."""
    out = tmp_path_factory.mktemp("cluster") / "lifecycle.parquet"
    result = CliRunner().invoke(cli, ["generate", "--members", "150", "--events", "3000",
                                      "--seed", "8", "--lifecycle", "--format", "parquet",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _bytes(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True)


def test_the_cluster_gives_the_one_process_report(address: str, retail: Program,
                                                  history: Path, retail_doc: dict) -> None:
    assert _bytes(simulate(retail, history, cluster=address)) == _bytes(retail_doc)


def test_shared_budget_and_stock_run_out_as_in_one_process(
        address: str, retail_copy: Callable[..., Program], lifecycle_history: Path,
        tmp_path: Path) -> None:
    program = retail_copy(BUDGETED)
    one_states, states = tmp_path / "one.jsonl", tmp_path / "cluster.jsonl"
    one = simulate(program, lifecycle_history, member_states=one_states)
    campaign = one["campaigns"]["double-points-weekend"]
    assert campaign["budget_used"] == campaign["budget"] == 8000  # exhausted
    assert one["redemptions"].get("declined:OUT_OF_STOCK", 0) > 0
    for partitions in (1, 2):
        doc = simulate(program, lifecycle_history, cluster=address, workers=partitions,
                       member_states=states)
        assert _bytes(doc) == _bytes(one)
        assert states.read_bytes() == one_states.read_bytes()


def test_coupon_codes_are_sequenced_as_in_one_process(address: str, tmp_path: Path) -> None:
    """Orders of members in both partitions present single- and limited-use codes (some
    after their last use, one given back by a full refund)."""
    program = load_program(campaign_sources())
    history = campaign_history(tmp_path / "codes.jsonl")
    codes = codes_csv(tmp_path / "codes.csv")
    one = simulate(program, history, codes=codes)
    assert one["by_rule"].get("campaigns.coupon-bonus", 0) > 0
    assert _bytes(simulate(program, history, codes=codes, cluster=address, workers=2)) \
        == _bytes(one)


def test_cli_cluster_prints_the_workers_1_bytes(address: str, history: Path) -> None:
    runner = CliRunner()
    base = runner.invoke(cli, ["simulate", "-r", RETAIL, "--history", str(history), "-o",
                               "json", "--workers", "1"])
    on = runner.invoke(cli, ["simulate", "-r", RETAIL, "--history", str(history), "-o",
                             "json", "--cluster", address])
    assert base.exit_code == on.exit_code == 0, on.output
    assert on.stdout == base.stdout


def test_more_partitions_than_worker_threads_is_refused(address: str, retail: Program,
                                                        history: Path) -> None:
    with pytest.raises(ClusterUnavailable, match="has 2 worker thread"):
        simulate(retail, history, cluster=address, workers=3)


def test_an_unreachable_scheduler_is_a_clear_error(history: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", "1s")
    result = CliRunner().invoke(cli, ["simulate", "-r", RETAIL, "--history", str(history),
                                      "--cluster", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output
