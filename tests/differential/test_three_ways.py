"""One history, three ways: over HTTP against a real `loyalty serve`, by `loyalty import`,
and by `loyalty simulate --member-states` — member by member, they end in the same place.

For each shipped program (retail, card-rewards, b2b-portal) a generated history with
every event type the program offers (`loyalty generate --lifecycle`: enrolments with
tiers and referrers, orders, orders paying with points, refunds after redemptions, holds
that time out, cancels, automatic redemption where offered, four years so that points
expire where they do and tiers fall) is sent to a real server (each event the API call a
client would make), loaded by the import command into another database, and simulated.
Compared: every member's tier, tier_since, balance, debt, orders, lots with their expiry
and what is left, cap spend and campaign uses (the service: the member summary at the
history's last instant; the simulator: its member-states file), the ledger's totals
against the report's, and what was declined or rejected, line by line.

b2b-portal keeps its balances in an external points API: a real fake on loopback
(tests/differential/external.py), every company's account open at 0. Over HTTP an
operator's calls come before each redemption — `admin/expire` for the redeeming member
to the redemption's instant (their holds whose time ran out are released, as the
service's expiry job would have by then), then `admin/external-points/run` — and the
latter again at the end; the import does the same by itself (docs/import.md). The
member summary's `balance` is the account's, compared with the simulated balance (and
so is the account's balance as the API holds it, one by one and in sum); debt and lots
are not compared: the platform's book of an external account is the journal of what it
credited and debited through its ledger (redemptions are debited on the account and
never draw its lots, so it holds no debt), while the simulator keeps an internal book.
Instead: `points_owed` is 0, `journal_balance` is what the ledger's transfers moved on
the account, the API applied each transfer and debit the store made exactly once, and
the redeemed total is what the accounts paid for redemptions less what came back to
them (such redemptions write nothing to the ledger).

Runs on SQLite, and on PostgreSQL with CI=true (scratch databases). The hypothesis test
(import against simulation on small histories) runs 20 fixed examples;
`DIFF_EXAMPLES=500` searches that many random ones.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import store.imports.importer as importer
import store.ledger.accounts as accounts
from cli.main import cli
from engine.program import load_program
from engine.simulation.generate import generate
from engine.simulation.simulate import simulate
from store.db.database import Database, open_database
from store.imports.events import EventLoop
from store.registry.programs import ProgramCache
from store.tables.core import LedgerEntryRow, MemberRow
from tests.api.server import running_server
from tests.differential.external import (
    EXTERNAL,
    account_differences,
    applied_once,
    points_api,
    redeemed,
)
from tests.differential.http_transport import HttpTransport
from tests.points_api import PointsApi
from tests.store.db_support import REPO, scratch_database, wipe

RULESETS = REPO / "rulesets"
KEYS = ("tier", "tier_since", "balance", "debt", "orders_count", "lots", "cap_spend",
        "campaign_uses")
# An external account's book is the journal of the platform's ledger: no debt, no lots
# drawn by redemptions (see the module's docstring).
EXTERNAL_KEYS = tuple(k for k in KEYS if k not in ("debt", "lots"))
SEEDS = {"retail": 3, "card-rewards": 4, "b2b-portal": 6}


def keys_of(program: str) -> tuple[str, ...]:
    return EXTERNAL_KEYS if program in EXTERNAL else KEYS


def write_history(path: Path, program: str, seed: int, members: int = 25, events: int = 350,
                  start: date = date(2022, 1, 1), end: date = date(2025, 12, 31)) -> Path:
    out = io.StringIO()
    generate(out, members=members, events=events, seed=seed, start=start, end=end,
             program=program, lifecycle=True)
    path.write_text(out.getvalue())
    return path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def publish(url: str, program: str) -> None:
    """The shipped version, in effect from before every history here (on a database
    created first: the registry commands never create one)."""
    invoke("db", "upgrade", "--database-url", url)
    invoke("publish", str(RULESETS / program), "--database-url", url)
    invoke("activate", program, "1", "--at", "2021-01-01T00:00:00Z", "--database-url", url)


def history_end(path: Path) -> datetime:
    return max(datetime.fromisoformat(json.loads(line)["at"]) for line in path.open())


# ---------------------------------------------------------------- the three ways

def simulated(program: str, history: Path, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    states = tmp / "states.jsonl"
    doc = json.loads(invoke("simulate", "-r", str(RULESETS / program), "--history",
                            str(history), "--member-states", str(states), "-o", "json"))
    members = {m["member_id"]: m for m in map(json.loads, states.open())}
    return doc, members


def imported(url: str, program: str, history: Path) -> dict[str, Any]:
    publish(url, program)
    return json.loads(invoke("import", "--history", str(history), "--program", program,
                             "--database-url", url, "--quiet", "-o", "json"))


def over_http(url: str, program: str, history: Path, tmp: Path,
              settings: dict[str, str] | None = None) -> dict[str, Any]:
    """Every event as its API call; the expiry job to the end (and for an external
    account the external points job before each redemption and at the end); the
    members' summaries."""
    from engine.simulation.history import Event, read_events

    publish(url, program)
    end = history_end(history)
    rejected, declined = [], Counter()
    # No background jobs: the expiry job would bring the books to today, past the
    # history's end, and a summary never goes back in time.
    quiet = {"LOYALTY_RATE_LIMITS_ENABLED": "false", "LOYALTY_JOBS_ENABLED": "false",
             **(settings or {})}
    with running_server(url, tmp, workers=1, settings=quiet) as server, \
            httpx.Client(base_url=server.url, timeout=30,
                         headers={"Authorization": f"Bearer {server.key}"}) as client:
        admin = {"Authorization": f"Bearer {server.admin_key}"}
        transport = HttpTransport(client, program, admin if settings else None)
        loop = EventLoop(transport)
        for item in read_events(history):
            assert isinstance(item, Event), item
            result = loop.handle(item)
            if result.status == "rejected":
                rejected.append(result.line)
            for part in result.refusals:
                declined.update(part.keys(item.type, item.data.get("activity")))
        r = client.post(f"/v1/programs/{program}/admin/expire", json={"as_of": end.isoformat()},
                        headers=admin)
        assert r.status_code == 200, r.text
        if settings:
            transport.run_external_points()
        members = {}
        for member_id in member_ids(url, program):
            r = client.get(f"/v1/programs/{program}/members/{member_id}",
                           params={"as_of": end.isoformat()})
            assert r.status_code == 200, r.text
            members[member_id] = {k: r.json()[k] for k in (*keys_of(program), "account")}
    return {"rejected": rejected, "declined": declined, "members": members}


# ---------------------------------------------------------------- reading a store

def member_ids(url: str, program: str) -> list[str]:
    db = open_database(url)
    try:
        with db.reading() as session:
            return sorted(session.scalars(select(MemberRow.member_id).where(
                MemberRow.program == program)))
    finally:
        db.dispose()


def summaries(db: Database, program: str, end: datetime,
              keys: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    cache = ProgramCache()
    with db.reading() as session:
        ids = sorted(session.scalars(select(MemberRow.member_id).where(
            MemberRow.program == program)))
    keys = keys or (*keys_of(program), "account")
    return {m: {k: v for k, v in accounts.summary(db, cache, program, m, end).items()
                if k in keys} for m in ids}


def ledger_totals(db: Database, program: str) -> dict[str, int]:
    with db.reading() as session:
        def total(*where: Any) -> int:
            return int(session.scalar(select(func.sum(LedgerEntryRow.points)).where(
                LedgerEntryRow.program == program, *where)) or 0)

        reverse = LedgerEntryRow.kind == "reverse"
        refund = LedgerEntryRow.source_type == "refund"
        out = {
            # net of administrators' debits, as the report counts them
            "points_issued": total(LedgerEntryRow.kind.in_(("earn", "bonus", "adjust"))),
            "points_reversed": -total(reverse, refund),
            "points_redeemed": -total(LedgerEntryRow.kind == "redeem")
            - total(reverse, LedgerEntryRow.source_type != "refund"),
            "points_expired": -total(LedgerEntryRow.kind == "expire"),
        }
    if program in EXTERNAL:  # paid by the accounts, not drawn from the ledger
        out["points_redeemed"] += redeemed(db, program)
    return out


def sim_totals(doc: dict[str, Any]) -> dict[str, int]:
    return {k: doc["totals"][k] for k in ("points_issued", "points_reversed",
                                          "points_redeemed", "points_expired")}


def sim_refusals(doc: dict[str, Any]) -> Counter:
    out = Counter({k: v for k, v in doc["redemptions"].items() if k.startswith("declined:")})
    out.update({k: v for k, v in doc["activities"].items() if ":" in k})
    return out


def differences(expected: dict[str, dict[str, Any]], got: dict[str, dict[str, Any]],
                keys: tuple[str, ...] = KEYS) -> list[str]:
    """Readable, per member and key (an empty list when they agree)."""
    out = [f"{m}: only in the simulation" for m in sorted(expected.keys() - got.keys())]
    out += [f"{m}: only in the service" for m in sorted(got.keys() - expected.keys())]
    for m in sorted(expected.keys() & got.keys()):
        out += [f"{m}.{k}: simulated {expected[m][k]!r}, service {got[m][k]!r}"
                for k in keys if expected[m][k] != got[m][k]]
    return out


def states_of(members: dict[str, Any], keys: tuple[str, ...] = KEYS
              ) -> dict[str, dict[str, Any]]:
    return {m: {k: state[k] for k in keys} for m, state in members.items()}


def store_differences(db: Database, program: str, expected: dict[str, dict[str, Any]],
                      got: dict[str, dict[str, Any]], api: PointsApi | None) -> list[str]:
    """The members, and for an external account what the API holds and applied."""
    out = differences(expected, got, keys_of(program))
    if api is not None:
        out += account_differences(expected, got, api) + applied_once(db, program, api)
    return out


# ---------------------------------------------------------------- the tests

@pytest.mark.parametrize("program", sorted(SEEDS))
def test_http_import_and_simulation_agree(program: str, tmp_path: Path) -> None:
    history = write_history(tmp_path / "history.jsonl", program, SEEDS[program])
    end = history_end(history)
    doc, sim_members = simulated(program, history, tmp_path)
    expected = states_of(sim_members, keys_of(program))
    totals = doc["totals"]
    assert totals["downgrades"] > 0 and totals["points_reversed"] > 0
    assert doc["events"]["by_type"].get("cancel") and doc["redemptions"]["accepted"] > 0
    assert totals["points_expired"] > 0 or program in EXTERNAL  # the account's business
    sim_rejected = [e["line"] for e in doc["events"]["errors"]]

    with scratch_database(tmp_path, "import.db") as url, points_api(program, history) as fake:
        report = imported(url, program, history)
        db = open_database(url)
        try:
            api = fake[0] if fake else None
            assert store_differences(db, program, expected, summaries(db, program, end),
                                     api) == []
            assert ledger_totals(db, program) == sim_totals(doc)
        finally:
            db.dispose()
    assert [r["line"] for r in report["rejected"]] == sim_rejected
    assert Counter(report["declined"]) == sim_refusals(doc)

    with scratch_database(tmp_path, "http.db") as url, points_api(program, history) as fake:
        http = over_http(url, program, history, tmp_path, fake[1] if fake else None)
        db = open_database(url)
        try:
            assert store_differences(db, program, expected, http["members"],
                                     fake[0] if fake else None) == []
            assert ledger_totals(db, program) == sim_totals(doc)
        finally:
            db.dispose()
    assert http["rejected"] == sim_rejected
    assert http["declined"] == sim_refusals(doc)


PROGRAMS = {name: load_program(RULESETS / name) for name in sorted(SEEDS)}


@settings(max_examples=int(os.environ.get("DIFF_EXAMPLES", "20")), deadline=None, derandomize=not os.environ.get("DIFF_EXAMPLES"), database=None,
          suppress_health_check=list(HealthCheck))
@given(program=st.sampled_from(sorted(PROGRAMS)), seed=st.integers(0, 10_000),
       members=st.integers(2, 6), events=st.integers(10, 150),
       start=st.dates(date(2022, 1, 1), date(2024, 6, 30)), days=st.integers(30, 1200))
def test_import_and_simulation_agree_on_small_histories(
        migrated_db: Database, tmp_path_factory: pytest.TempPathFactory, program: str,
        seed: int, members: int, events: int, start: date, days: int) -> None:
    from datetime import timedelta

    wipe(migrated_db)
    tmp = tmp_path_factory.mktemp("small")
    # Not past 2025 (ahead of the server clock an instant is refused; the simulator has
    # no clock).
    history = write_history(tmp / "h.jsonl", program, seed, members, events, start,
                            min(start + timedelta(days=days), date(2025, 12, 31)))
    end = history_end(history)
    part_doc = simulate(PROGRAMS[program], history, member_states=tmp / "states.jsonl")
    expected = states_of({m["member_id"]: m for m in map(json.loads,
                                                         (tmp / "states.jsonl").open())},
                         keys_of(program))
    publish(migrated_db.url, program)
    with points_api(program, history) as fake:
        report = importer.run(migrated_db, program, history)
        assert store_differences(migrated_db, program, expected,
                                 summaries(migrated_db, program, end),
                                 fake[0] if fake else None) == []
    assert ledger_totals(migrated_db, program) == sim_totals(part_doc)
    assert [n for n, _ in report.rejected] == [e["line"] for e in part_doc["events"]["errors"]]
    assert Counter(report.declined) == sim_refusals(part_doc)


def with_admin_events(history: Path, seed: int) -> int:
    """Administrators' events put into a generated history, each right after one of the
    member's own events (at its instant): adjustments either way, a suspension (some
    lifted later), a closing. Returns how many were put in."""
    import random

    rng = random.Random(seed)
    lines = [json.loads(line) for line in history.open()]
    # The member of the last line is left alone: were that line refused (a suspended
    # member's order), the simulator would end the history at the line before (it brings
    # the books to its last applied event) and the import at the refused line's instant.
    last = lines[-1]["member_id"] if lines else None
    own: dict[str, list[int]] = {}
    for n, line in enumerate(lines):
        own.setdefault(line["member_id"], []).append(n)
    after: dict[int, list[dict[str, Any]]] = {}
    for member, places in sorted(own.items()):
        if len(places) < 2 or member == last or rng.random() < 0.3:
            continue
        def put(n: int, event: dict[str, Any], member: str = member) -> None:
            after.setdefault(n, []).append(
                {**event, "member_id": member, "at": lines[n]["at"]})
        put(rng.choice(places), {"type": "adjust", "points": rng.choice((-700, -50, 40, 900))})
        start = rng.choice(places[:-1])
        put(start, {"type": "status", "status": "suspended", "reason": "review"})
        later = [n for n in places if n > start]
        if rng.random() < 0.6:
            put(rng.choice(later), {"type": "status", "status": "active"})
        elif rng.random() < 0.5:
            put(later[-1], {"type": "status", "status": "closed"})
    out = []
    for n, line in enumerate(lines):
        out.append(line)
        out.extend(after.get(n, ()))
    history.write_text("".join(json.dumps(line) + "\n" for line in out))
    return sum(len(v) for v in after.values())


@settings(max_examples=int(os.environ.get("DIFF_EXAMPLES", "6")), deadline=None,
          derandomize=not os.environ.get("DIFF_EXAMPLES"), database=None,
          suppress_health_check=list(HealthCheck))
@given(program=st.sampled_from(["card-rewards", "retail"]), seed=st.integers(0, 10_000),
       members=st.integers(2, 6), events=st.integers(20, 150),
       start=st.dates(date(2022, 1, 1), date(2024, 6, 30)), days=st.integers(60, 1200))
def test_import_and_simulation_agree_with_administrators(
        migrated_db: Database, tmp_path_factory: pytest.TempPathFactory, program: str,
        seed: int, members: int, events: int, start: date, days: int) -> None:
    """Adjustments, suspensions and closings (engine/lifecycle/admin.py) in a history:
    the import (the service's store functions) and the simulator end in the same place,
    reject the same lines (a suspended member's orders and redemptions) and decline the
    same activities."""
    from datetime import timedelta

    wipe(migrated_db)
    tmp = tmp_path_factory.mktemp("admin")
    history = write_history(tmp / "h.jsonl", program, seed, members, events, start,
                            min(start + timedelta(days=days), date(2025, 12, 31)))
    with_admin_events(history, seed)
    end = history_end(history)
    doc = simulate(PROGRAMS[program], history, member_states=tmp / "states.jsonl")
    expected = states_of({m["member_id"]: m for m in map(json.loads,
                                                         (tmp / "states.jsonl").open())},
                         (*KEYS, "status"))
    publish(migrated_db.url, program)
    report = importer.run(migrated_db, program, history)
    assert differences(expected, summaries(migrated_db, program, end, (*KEYS, "status")),
                       (*KEYS, "status")) == []
    assert ledger_totals(migrated_db, program) == sim_totals(doc)
    imported_lines = dict(report.rejected)
    simulated_lines = {e["line"]: e["message"] for e in doc["events"]["errors"]}
    assert {n: imported_lines[n] for n in imported_lines.keys() - simulated_lines.keys()} \
        == {n: simulated_lines[n] for n in simulated_lines.keys() - imported_lines.keys()}
    assert Counter(report.declined) == sim_refusals(doc)
