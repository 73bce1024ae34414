"""A changed retail version in shadow while a generated history is replayed over HTTP
through a real `loyalty serve` with two workers: the differences show in the report of
`loyalty shadow report` (and of the API, the same document), in the format of
`loyalty simulate --compare`; the aggregates of both workers add up to every order of the
history; the ledger holds the live version's entries only."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import func, select

from cli.main import cli
from engine.simulation.history import Event, read_events
from store.db.database import open_database
from store.imports.events import EventLoop
from store.tables.core import LedgerEntryRow, OrderRow
from tests.api.server import running_server
from tests.differential.http_transport import HttpTransport
from tests.differential.test_three_ways import RULESETS, invoke, publish, write_history
from tests.shadow.changed import changed_retail
from tests.store.db_support import scratch_database


def shadow_cli(server, *args: str) -> str:
    result = CliRunner().invoke(cli, ["shadow", *args], env={
        "LOYALTY_URL": server.url, "LOYALTY_KEY": server.admin_key}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_changed_version_in_shadow_over_a_replayed_history(tmp_path: Path):
    history = write_history(tmp_path / "history.jsonl", "retail", seed=16, members=20,
                            events=300)
    changed = tmp_path / "retail-v2"
    changed.mkdir()
    for name, text in changed_retail(2).items():
        (changed / name).write_text(text)
    settings = {"LOYALTY_RATE_LIMITS_ENABLED": "false", "LOYALTY_JOBS_ENABLED": "false",
                "LOYALTY_SHADOW_CHECK_SECONDS": "0.3"}
    with scratch_database(tmp_path) as url:
        publish(url, "retail")
        invoke("publish", str(changed), "--database-url", url)
        with running_server(url, tmp_path, workers=2, settings=settings) as server:
            assert "retail version 2 in shadow since" in shadow_cli(server, "start", "retail", "2")
            time.sleep(1.5)  # the other worker reads the runs in shadow every 0.3 s
            with httpx.Client(base_url=server.url, timeout=30, headers={
                    "Authorization": f"Bearer {server.key}"}) as client:
                loop = EventLoop(HttpTransport(client, "retail"))
                for item in read_events(history):
                    assert isinstance(item, Event), item
                    loop.handle(item)
            db = open_database(url)
            try:
                with db.reading() as session:
                    orders = session.scalar(select(func.count()).select_from(OrderRow))
                    versions = set(session.scalars(select(LedgerEntryRow.ruleset_version)))
            finally:
                db.dispose()
            deadline = time.monotonic() + 180  # the niced shadow processes catch up
            while True:
                doc = json.loads(shadow_cli(server, "report", "retail", "-o", "json"))
                if doc["shadow"]["requests"]["commit"] >= orders or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            api = httpx.get(f"{server.url}/v1/programs/retail/shadow/report", headers={
                "Authorization": f"Bearer {server.admin_key}"}).json()
            text = shadow_cli(server, "report", "retail")
            assert "shadow run stopped at" in shadow_cli(server, "stop", "retail")

    shadow = doc["shadow"]
    assert orders > 50
    # both workers' figures add up to every order of the history
    assert shadow["requests"]["commit"] == orders == doc["totals"]["orders"]
    assert (shadow["failed"], shadow["dropped"]) == (0, 0)
    assert shadow["differences"]["points"] > 0 and shadow["differences"]["tier"] > 0
    assert shadow["members_tier_differs"] > 0
    assert shadow["differences"]["points"] > 20  # more than a sample keeps
    assert 0 < len(shadow["samples"]["points"]) <= 20 and shadow["samples"]["tier"]
    assert versions <= {1, None}  # the shadow wrote nothing to the ledger
    assert api == doc
    assert "Points by rule" in text and "differences: points" in text

    # the format of `simulate --compare` over the same history
    simulated = json.loads(invoke("simulate", "-r", str(RULESETS / "retail"), "--compare",
                                  str(changed), "--history", str(history), "-o", "json"))
    assert set(simulated) <= set(doc) and set(simulated["compare"]) == set(doc["compare"])
    assert set(simulated["compare"]["delta"]) == set(doc["compare"]["delta"])
    rule = "earning.categories.electronics"
    assert doc["compare"]["delta"]["by_rule"][rule] > 0
    assert simulated["compare"]["delta"]["by_rule"][rule] > 0
