"""Shadow evaluation in one app process: a changed retail version in shadow sees every
live quote and commit, counts the differences of each kind with samples and both traces,
writes nothing to the ledger; a failing or a dropped shadow evaluation is counted and the
live answers are what they are without a shadow."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import store.shadow.report as shadow_report
import store.shadow.runs as runs
from api.app import create_app
from engine import load_program
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from store.settings import Settings
from store.shadow.tap import ShadowTap
from store.tables.core import LedgerEntryRow, MemberRow, OrderRow
from tests.api.conftest import make_key
from tests.shadow.changed import publish_changed
from tests.store.helpers import order, publish_retail, retail_version

BASE = "/v1/programs/retail"
DAY = "2026-11-17T14:30:00-05:00"  # a Tuesday: no weekend campaign


@pytest.fixture
def app(db):
    publish_retail(db, 1)
    publish_changed(db, 2)
    settings = Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=False)
    return create_app(settings, db)


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def keys(db):
    return ({"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit')}"},
            {"Authorization": f"Bearer {make_key(db, 'admin')}"})


def traffic(client, key, prefix="SO"):
    """Orders and a quote with a redemption of three members; the live answers."""
    answers = []
    for i, (member, amount, category) in enumerate([
            ("S-1", "300.00", "electronics"), ("S-2", "80.00", "fashion"),
            ("S-1", "120.00", "home"), ("S-3", "600.00", "electronics")]):
        r = client.post(f"{BASE}/orders", headers=key,
                        json=order(f"{prefix}-{i}", member=f"{prefix}{member}", amount=amount,
                                   category=category, placed_at=DAY))
        assert r.status_code == 201, r.text
        answers.append(r.json())
    quote = client.post(f"{BASE}/evaluate", headers=key, json={
        "member": {"id": f"{prefix}S-3"}, "as_of": "2026-11-18T10:00:00-05:00",
        "redeem": {"points": 600}})
    assert quote.status_code == 200, quote.text
    answers.append(quote.json())
    return answers


def report(client, admin):
    assert client.app.state.services.shadow.wait_idle(120)  # its process may start slowly
    r = client.get(f"{BASE}/shadow/report", headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_changed_version_in_shadow_shows_every_kind_of_difference(client, keys):
    key, admin = keys
    for loose in ("2", True, 2.0):  # a version is a JSON integer, not one by conversion
        refused = client.put(f"{BASE}/shadow", headers=admin, json={"version": loose})
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_request"
    started = client.put(f"{BASE}/shadow", headers=admin, json={"version": 2})
    assert started.status_code == 200, started.text
    assert started.json()["version"] == 2 and started.json()["active"]
    answers = traffic(client, key)
    assert all(a["ruleset_version"] == 1 for a in answers)  # live answers: version 1

    doc = report(client, admin)
    shadow = doc["shadow"]
    assert shadow["requests"] == {"quote": 1, "commit": 4}
    assert (shadow["evaluated"], shadow["failed"], shadow["dropped"]) == (5, 0, 0)
    # electronics earn 3x and silver's upgrade bonus comes with S-1's and S-3's first
    # order in shadow; S-3's 600-point redemption is refused under a 2000-point minimum
    assert shadow["differences"] == {"points": 3, "tier": 3, "redemption": 1}
    assert shadow["members_tier_differs"] == 2  # S-1 and S-3; S-2 spent too little
    # the format of `simulate --compare`: the live version, and the one in shadow compared
    assert doc["program"]["version"] == 1 and doc["compare"]["program"]["version"] == 2
    live_points = sum(a["commit"]["points_awarded"] for a in answers[:4])
    assert doc["totals"]["points_issued"] == live_points
    assert doc["compare"]["totals"]["points_issued"] > live_points
    assert doc["compare"]["delta"]["by_rule"]["earning.categories.electronics"] == 300 + 600
    # S-3's 600.00 meets retail's tier challenge: silver live, gold in shadow
    assert doc["tiers"]["end"] == {"bronze": 2, "silver": 1, "gold": 0, "platinum": 0}
    assert doc["compare"]["tiers"]["end"] == {"bronze": 1, "silver": 1, "gold": 1, "platinum": 0}
    assert [(m["member_id"], m["tier"], m["compare_tier"])
            for m in doc["compare"]["members_changed"]] == [("SOS-3", "silver", "gold"),
                                                            ("SOS-1", "bronze", "silver")]
    assert doc["redemptions"] == {"accepted": 1}
    assert list(doc["compare"]["redemptions"]) == ["declined:BELOW_MINIMUM"]
    flips = shadow["samples"]["redemption"]
    assert len(flips) == 1 and flips[0]["operation"] == "quote"
    assert flips[0]["live"]["redemption"]["eligible"] is True
    assert flips[0]["shadow"]["redemption"]["eligible"] is False
    sample = shadow["samples"]["points"][0]
    assert sample["live"]["trace"] and sample["shadow"]["trace"]  # both traces
    assert sample["live"]["ruleset_version"] == 1 and sample["shadow"]["ruleset_version"] == 2

    html = client.get(f"{BASE}/shadow/report", headers=admin, params={"format": "html"})
    assert html.status_code == 200 and "retail v2" in html.text
    assert client.delete(f"{BASE}/shadow", headers=admin).json()["active"] is False
    assert client.delete(f"{BASE}/shadow", headers=admin).json()["code"] == "no_shadow"


def ledger(db):
    with db.reading() as s:
        return sorted(tuple(r) for r in s.execute(
            select(MemberRow.member_id, LedgerEntryRow.kind, LedgerEntryRow.rule,
                   LedgerEntryRow.points, LedgerEntryRow.ruleset_version)
            .join(MemberRow, MemberRow.id == LedgerEntryRow.member_pk)).all())


def test_shadow_never_writes_to_the_ledger(client, keys, db):
    key, admin = keys
    without = traffic(client, key, "A")  # no shadow
    assert client.put(f"{BASE}/shadow", headers=admin, json={"version": 2}).status_code == 200
    with_shadow = traffic(client, key, "B")  # the same traffic by other members
    doc = report(client, admin)
    assert doc["shadow"]["evaluated"] == 5
    assert doc["compare"]["totals"]["points_issued"] > doc["totals"]["points_issued"]
    # the live answers are those without a shadow, and so are the ledger's rows
    def same(answer):
        return {k: v for k, v in answer.items() if k not in ("order", "commit", "member")}
    assert [same(a) for a in with_shadow] == [same(a) for a in without]
    rows = ledger(db)
    a_rows = [r[1:] for r in rows if str(r[0]).startswith("A")]
    b_rows = [r[1:] for r in rows if str(r[0]).startswith("B")]
    assert a_rows == b_rows and {r[-1] for r in rows} == {1}
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(OrderRow)) == 8


def test_a_failing_shadow_evaluation_is_counted_and_the_live_answer_stands(client, keys, db):
    key, admin = keys
    sources = retail_version(3)
    sources["program.yaml"] = sources["program.yaml"].replace("currency: USD", "currency: EUR")
    with db.writing() as session:
        registry.publish(session, load_program(sources), "tests", "v3: in euros")
    assert client.put(f"{BASE}/shadow", headers=admin, json={"version": 3}).status_code == 200
    answers = traffic(client, key)
    assert all(a["ruleset_version"] == 1 for a in answers)
    shadow = report(client, admin)["shadow"]
    assert shadow["failed"] == 4 and shadow["evaluated"] == 1  # every commit; not the quote
    failed = shadow["samples"]["failed"]
    assert len(failed) == 4 and all("EUR" in f["error"] or "USD" in f["error"] for f in failed)


def test_a_full_queue_drops_and_counts(db):
    publish_retail(db, 1)
    publish_changed(db, 2)
    cache = ProgramCache()
    run = runs.start(db, "retail", 2, "tests")
    tap = ShadowTap(db, cache, capacity=1)
    quote = {"member": {"id": "Q-1"}, "as_of": DAY}
    live = {"ruleset_version": 1, "tier_after": "bronze", "earn": {"by_rule": {}}}
    assert tap.offer(run, "quote", quote, live) is True
    assert tap.offer(run, "quote", quote, live) is False  # the worker is not running yet
    tap.start()
    assert tap.wait_idle(120)  # the shadow process started (slow on a loaded machine)
    tap.stop()
    shadow = shadow_report.report(db, cache, "retail")["shadow"]
    assert (shadow["evaluated"], shadow["dropped"], shadow["failed"]) == (1, 1, 0)


def test_the_cli_on_a_database_an_empty_report_and_the_audit_log(db):
    from click.testing import CliRunner

    from cli.main import cli
    from cli.output import cli_actor
    from store.registry import audit

    publish_retail(db, 1)
    publish_changed(db, 2)

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["shadow", *args, "--database-url", db.url])
        assert result.exit_code == 0, result.output
        return result.output

    assert "retail version 2 in shadow since" in run("start", "retail", "2", "--author", "ana")
    text = run("report", "retail")  # no traffic yet: every figure is 0
    assert "Points by rule" in text and "requests: 0 quotes, 0 commits" in text
    assert "<html" in run("report", "retail", "-o", "html").lower()
    assert "shadow run stopped at" in run("stop", "retail")
    refused = CliRunner().invoke(cli, ["shadow", "stop", "retail", "--database-url", db.url])
    assert refused.exit_code == 1 and "no_shadow" in refused.output
    refused = CliRunner().invoke(cli, ["shadow", "start", "retail", "9", "--database-url", db.url])
    assert refused.exit_code == 1 and "unknown_version" in refused.output
    with db.reading() as session:
        actions = [(e.action, e.actor, e.detail["version"]) for e in audit.entries(session)
                   if e.action.startswith("shadow.")]
    assert actions == [("shadow.stop", cli_actor(), 2), ("shadow.start", "ana", 2)]


def test_erasure_removes_the_attributes_of_the_requests_kept_as_samples(client, keys, db):
    from store.tables.shadow import ShadowSampleRow

    key, admin = keys
    assert client.put(f"{BASE}/shadow", headers=admin, json={"version": 2}).status_code == 200
    body = order("E-1", member="ERASE-1", amount="300.00", category="electronics",
                 placed_at=DAY)
    body["member"]["attributes"] = {"email": "ana@example.com"}
    assert client.post(f"{BASE}/orders", headers=key, json=body).status_code == 201
    report(client, admin)

    def stored() -> str:
        with db.reading() as s:
            return str(list(s.scalars(select(ShadowSampleRow.request).where(
                ShadowSampleRow.member_id == "ERASE-1"))))

    assert "ana@example.com" in stored()  # the sample kept the whole request
    r = client.post(f"{BASE}/members/ERASE-1/erasure", headers=admin, json={"reason": "asked"})
    assert r.status_code == 200, r.text
    assert "ana@example.com" not in stored() and "E-1" in stored()


def test_starts_racing_for_one_program_leave_one_run_in_shadow(db):
    """Eight starts of one program at once (threads, each its own transaction; on
    PostgreSQL with CI=true truly concurrent): every one ends the run before it, so one
    run is left in shadow."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    import store.shadow.runs as runs
    from store.tables.shadow import ShadowRunRow

    publish_retail(db, 1)
    publish_changed(db, 2)
    with ThreadPoolExecutor(8) as pool:
        started = list(pool.map(lambda i: runs.start(db, "retail", 2, f"racer-{i}"), range(8)))
    assert len({run.id for run in started}) == 8
    with db.reading() as session:
        active = session.scalar(select(func.count()).select_from(ShadowRunRow).where(
            ShadowRunRow.program == "retail", ShadowRunRow.stopped_at.is_(None)))
    assert active == 1
