"""Opt-in campaigns and coupon codes, three ways: a retail history with members joining
and leaving an opt-in campaign and orders presenting coupon codes (single- and
limited-use, some presented after their last use, some given back by full refunds) is
sent to a real `loyalty serve` over HTTP, loaded by `loyalty import`, and simulated with
`loyalty simulate --codes` — member by member they end in the same place, and the
ledgers' totals are the simulation's. Runs on SQLite, and on PostgreSQL with CI=true."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

import store.campaigns.codes as coupon_codes
from engine.simulation.history import Event, read_events
from store.db.database import open_database
from store.imports.events import EventLoop
from store.registry.programs import ProgramCache
from store.tables.codes import CouponCodeRow
from store.tables.core import OrderRow
from tests.api.server import running_server
from tests.differential.http_transport import HttpTransport
from tests.differential.test_three_ways import (
    KEYS,
    differences,
    history_end,
    invoke,
    ledger_totals,
    sim_refusals,
    sim_totals,
    states_of,
    summaries,
    write_history,
)
from tests.store.campaign_program import campaign_sources
from tests.store.db_support import scratch_database

CODES = {"DIFF-ONE": 1, "DIFF-TWO": 2, "DIFF-THREE": 1, "DIFF-MANY": 5}


def campaign_history(path: Path) -> Path:
    """A generated retail history, with every other member joining `join-bonus` at
    enrolment (and every other one of those leaving it before their fourth order), and every third order
    presenting a coupon code (in turn); the first order with the single-use DIFF-ONE is
refunded in full at once."""
    write_history(path, "retail", seed=11, members=12, events=260)
    out, orders, joined, leaving, refunded = [], 0, {}, False, False
    codes = sorted(CODES)
    for n, line in enumerate(path.read_text().splitlines()):
        event = json.loads(line)
        member = event["member_id"]
        if event["type"] == "order":
            orders += 1
            if orders % 3 == 0:
                event["codes"] = [codes[(orders // 3) % len(codes)]]
            if member in joined:
                joined[member] += 1
            if joined.get(member) == 3 and (leaving := not leaving):
                out.append({"type": "campaign_leave", "member_id": member, "at": event["at"],
                            "campaign": "join-bonus"})
        out.append(event)
        if event.get("codes") == ["DIFF-ONE"] and not refunded:  # its use comes back
            refunded = True
            out.append({"type": "refund", "member_id": member, "at": event["at"],
                        "order_id": event["order"]["id"]})
        if event["type"] == "enroll" and n % 2 == 0:
            joined[member] = 0
            out.append({"type": "campaign_join", "member_id": member, "at": event["at"],
                        "campaign": "join-bonus"})
    path.write_text("".join(json.dumps(e) + "\n" for e in out))
    return path


def write_program(folder: Path) -> Path:
    folder.mkdir()
    for name, text in campaign_sources().items():
        (folder / name).write_text(text)
    return folder


def codes_csv(path: Path) -> Path:
    path.write_text("code,campaign,uses\n" + "".join(
        f"{code},coupon-bonus,{uses}\n" for code, uses in CODES.items()))
    return path


def prepare(url: str, program: Path) -> None:
    invoke("db", "upgrade", "--database-url", url)
    invoke("publish", str(program), "--database-url", url)
    invoke("activate", "retail", "1", "--at", "2021-01-01T00:00:00Z", "--database-url", url)
    db = open_database(url)
    try:
        for code, uses in CODES.items():
            coupon_codes.add(db, ProgramCache(), "retail", "coupon-bonus", [code], uses, "tests")
    finally:
        db.dispose()


def code_outcomes(url: str) -> tuple[Counter, dict[str, int]]:
    """What the commits said of their codes, and each code's uses taken at the end."""
    db = open_database(url)
    try:
        with db.reading() as session:
            statuses = Counter(c["status"] for (result,) in session.execute(
                select(OrderRow.result)) for c in result.get("codes") or ())
            rows = session.execute(select(CouponCodeRow.code, CouponCodeRow.used)).all()
            used = {row[0]: row[1] for row in rows}
    finally:
        db.dispose()
    return statuses, used


def over_http(url: str, history: Path, tmp: Path) -> dict[str, Any]:
    end = history_end(history)
    rejected, declined = [], Counter()
    quiet = {"LOYALTY_RATE_LIMITS_ENABLED": "false", "LOYALTY_JOBS_ENABLED": "false"}
    with running_server(url, tmp, workers=1, settings=quiet) as server, \
            httpx.Client(base_url=server.url, timeout=30,
                         headers={"Authorization": f"Bearer {server.key}"}) as client:
        loop = EventLoop(HttpTransport(client, "retail"))
        for item in read_events(history):
            assert isinstance(item, Event), item
            result = loop.handle(item)
            if result.status == "rejected":
                rejected.append(result.line)
            for part in result.refusals:
                declined.update(part.keys(item.type, item.data.get("activity")))
        r = client.post("/v1/programs/retail/admin/expire", json={"as_of": end.isoformat()},
                        headers={"Authorization": f"Bearer {server.admin_key}"})
        assert r.status_code == 200, r.text
    db = open_database(url)
    try:
        members = summaries(db, "retail", end)
    finally:
        db.dispose()
    return {"rejected": rejected, "declined": declined, "members": members}


def test_opt_in_and_codes_agree_three_ways(tmp_path: Path) -> None:
    program = write_program(tmp_path / "retail")
    history = campaign_history(tmp_path / "history.jsonl")
    codes = codes_csv(tmp_path / "codes.csv")
    end = history_end(history)
    states = tmp_path / "states.jsonl"
    doc = json.loads(invoke("simulate", "-r", str(program), "--history", str(history),
                            "--codes", str(codes), "--member-states", str(states),
                            "-o", "json"))
    sim_members = {m["member_id"]: m for m in map(json.loads, states.open())}
    expected = states_of(sim_members)
    uses = Counter(cid for m in sim_members.values() for cid, n in m["campaign_uses"].items()
                   for _ in range(n))
    assert uses["join-bonus"] > 0 and uses["coupon-bonus"] > 0
    assert any(m.get("enrolments") for m in sim_members.values())
    sim_rejected = [e["line"] for e in doc["events"]["errors"]]

    with scratch_database(tmp_path, "import.db") as url:
        prepare(url, program)
        report = json.loads(invoke("import", "--history", str(history), "--program", "retail",
                                   "--database-url", url, "--quiet", "-o", "json"))
        db = open_database(url)
        try:
            assert differences(expected, summaries(db, "retail", end), KEYS) == []
            assert ledger_totals(db, "retail") == sim_totals(doc)
        finally:
            db.dispose()
        statuses, used = code_outcomes(url)
    # the history exercises what it is meant to: codes used, used up, and given back
    assert statuses["applied"] > 0 and statuses["used_up"] > 0, statuses
    assert sum(used.values()) < statuses["applied"], (used, statuses)  # refunds gave back
    assert [r["line"] for r in report["rejected"]] == sim_rejected
    assert Counter(report["declined"]) == sim_refusals(doc)

    with scratch_database(tmp_path, "http.db") as url:
        prepare(url, program)
        http = over_http(url, history, tmp_path)
        assert differences(expected, http["members"], KEYS) == []
        assert code_outcomes(url) == (statuses, used)
    assert http["rejected"] == sim_rejected
    assert http["declined"] == sim_refusals(doc)
