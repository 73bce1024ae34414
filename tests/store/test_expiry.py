"""The expiry job and its surfaces (`loyalty expire`, the admin endpoint is in
tests/api/test_admin.py): idempotent, resumable between batches, and exact while commits
and redemptions run at the same time."""

from __future__ import annotations

import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import store.events.outbox as outbox
from cli.main import cli
from engine.lifecycle import from_json
from store.checkout import orders
from store.errors import StoreError
from store.jobs import expiry
from store.ledger import books
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from store.tables.core import AuditRow, LedgerEntryRow, MemberRow
from tests.store.helpers import assert_ledger_exact, order, publish_retail

EARNED = "2026-01-06T12:00:00-05:00"      # lots expire 24 months later, 2028-01-06
DUE = datetime.fromisoformat("2028-03-01T00:00:00Z")
MEMBERS = [f"X-{i}" for i in range(7)]
# Expiry never runs ahead of the server clock: these tests run at 2029-01-01, after DUE.
pytestmark = pytest.mark.usefixtures("server_clock")


def seed(db, members=MEMBERS, placed_at=EARNED):
    publish_retail(db, 1)
    cache = ProgramCache()
    for i, member in enumerate(members):
        orders.commit(db, cache, "retail", order(f"E-{member}", member=member,
                                                 amount=f"{100 + 10 * i}.00", placed_at=placed_at))
    return cache


def entries(db):
    with db.reading() as session:
        return session.scalar(select(func.count(LedgerEntryRow.id)))


def expire_counts(db):
    """How many times each (member, lot) was drawn on by an expire entry."""
    counts: Counter[tuple[int, int]] = Counter()
    with db.reading() as session:
        for member_pk, draws in session.execute(
                select(LedgerEntryRow.member_pk, LedgerEntryRow.draws)
                .where(LedgerEntryRow.kind == "expire")):
            for lot, _points in draws or ():
                counts[(member_pk, lot)] += 1
    return dict(counts)


def lots_per_member(db):
    with db.reading() as session:
        held = {len(from_json(m.book).lots) for m in session.scalars(select(MemberRow))}
    assert len(held) == 1
    return held.pop()


def test_second_run_writes_nothing(db):
    seed(db)
    with db.reading() as session:
        before = sum(m.balance for m in session.scalars(select(MemberRow)))
    first = expiry.expire(db, "retail", DUE, batch_size=3)
    assert first.points_expired == before > 0 and first.members == len(MEMBERS)
    assert first.batches == 3
    count = entries(db)
    second = expiry.expire(db, "retail", DUE, batch_size=3)
    assert (second.points_expired, second.members, second.batches) == (0, 0, 0)
    assert entries(db) == count
    assert_ledger_exact(db)
    assert set(expire_counts(db).values()) == {1}


def test_nothing_is_due_before_the_date(db):
    seed(db)
    count = entries(db)
    report = expiry.expire(db, "retail", datetime.fromisoformat("2028-01-05T00:00:00Z"))
    assert report.points_expired == 0 and entries(db) == count


class Interrupted(Exception):
    pass


def test_interrupted_between_batches_then_resumed_expires_each_lot_once(db):
    seed(db)
    lots = lots_per_member(db)  # every member earned the same kinds of lots

    def stop_after_first(report):
        raise Interrupted

    with pytest.raises(Interrupted):
        expiry.expire(db, "retail", DUE, batch_size=3, on_batch=stop_after_first)
    partial = expire_counts(db)
    assert len(partial) == 3 * lots  # the first batch's three members are done
    assert_ledger_exact(db)
    resumed = expiry.expire(db, "retail", DUE, batch_size=3)
    assert resumed.members == len(MEMBERS) - 3
    counts = expire_counts(db)
    assert len(counts) == len(MEMBERS) * lots and set(counts.values()) == {1}
    with db.reading() as session:
        assert all(m.balance == 0 for m in session.scalars(select(MemberRow)))
    assert_ledger_exact(db)


def test_a_failure_inside_a_member_rolls_that_member_back(db, monkeypatch):
    seed(db)
    lots = lots_per_member(db)
    real = books.write_changes
    calls = {"n": 0}

    def flaky(session, program, row, changes):
        calls["n"] += 1
        written = real(session, program, row, changes)
        if calls["n"] == 4:
            raise Interrupted  # after writing: the transaction must roll back
        return written

    monkeypatch.setattr(books, "write_changes", flaky)
    with pytest.raises(Interrupted):
        expiry.expire(db, "retail", DUE, batch_size=100)
    monkeypatch.setattr(books, "write_changes", real)
    assert len(expire_counts(db)) == 3 * lots
    assert_ledger_exact(db)
    expiry.expire(db, "retail", DUE)
    counts = expire_counts(db)
    assert len(counts) == len(MEMBERS) * lots and set(counts.values()) == {1}


def test_expiry_while_commits_and_redemptions_flow(db):
    """The job runs (twice, concurrently) while threads commit orders (some placed after
    the expiry date, so the commit itself expires the old lots) and redeem points."""
    members = [f"C-{i}" for i in range(24)]
    cache = seed(db, members)
    rng = random.Random(3)
    work = []
    for n in range(120):
        member = rng.choice(members)
        kind = rng.choice(["commit-late", "commit-early", "redeem"])
        work.append((kind, member, n))

    def act(item):
        kind, member, n = item
        try:
            if kind == "redeem":
                redemptions.redeem(db, cache, "retail", {"member_id": member, "points": 500,
                                                         "as_of": "2027-06-01T00:00:00Z"})
            else:
                at = "2028-02-01T12:00:00-05:00" if kind == "commit-late" else \
                    "2027-05-01T12:00:00-04:00"
                orders.commit(db, cache, "retail", order(f"L-{n}", member=member,
                                                         amount="600.00", placed_at=at))
            return "ok"
        except StoreError as exc:
            return exc.code

    def job(_):
        return expiry.expire(db, "retail", DUE, batch_size=5)

    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = [pool.submit(job, i) for i in range(2)]
        outcomes = list(pool.map(act, work))
        reports = [j.result() for j in jobs]
    assert set(outcomes) <= {"ok", "INSUFFICIENT_POINTS"}, outcomes
    expiry.expire(db, "retail", DUE)
    assert_ledger_exact(db)
    assert set(expire_counts(db).values()) == {1}  # never expired twice, by job or commit
    with db.reading() as session:
        lots = [lot for m in session.scalars(select(MemberRow)) for lot in from_json(m.book).lots]
    assert not [lot for lot in lots if lot.expires_at is not None and lot.expires_at <= DUE]
    assert sum(r.points_expired for r in reports) >= 0


def run_cli(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_expire_reports_json_and_is_idempotent(db):
    seed(db)
    first = run_cli("expire", "--program", "retail", "--as-of", DUE.isoformat(), "--batch", "2",
                    "--database-url", db.url)
    assert first.exit_code == 0, first.output + first.stderr
    report = json.loads(first.stdout.strip())
    assert report["program"] == "retail" and report["batches"] == 4
    assert report["members"] == len(MEMBERS) and report["points_expired"] > 0
    assert "batch 1" in first.stderr
    again = run_cli("expire", "--as-of", DUE.isoformat(), "--quiet", "--database-url", db.url)
    assert again.exit_code == 0 and again.stderr == ""
    assert json.loads(again.stdout.strip())["points_expired"] == 0
    with db.reading() as session:
        audits = session.scalars(select(AuditRow).where(AuditRow.action == "expire")).all()
    assert len(audits) == 1 and audits[0].actor == "cli"


@pytest.mark.parametrize("args, message", [
    (["--as-of", "yesterday"], "not an ISO 8601 instant"),
    (["--as-of", "2028-01-01T00:00:00"], "needs a UTC offset"),
    (["--program", "nope"], "no program 'nope'"),
])
def test_cli_expire_bad_input(db, args, message):
    publish_retail(db, 1)
    result = run_cli("expire", *args, "--database-url", db.url)
    assert result.exit_code == 1 and message in result.stderr, result.stderr


def test_the_job_raises_expiring_points_alerts_once_when_they_come_due(db) -> None:
    """The retail program alerts 30 days before points expire: the member's row is due
    then (before the expiry itself), the job brings the book there, the alert is one
    `points.expiring` event, and a second run raises it no more."""
    cache = seed(db, members=["A-1"])
    with db.reading() as session:
        due = session.scalar(select(MemberRow.due_at).where(MemberRow.member_id == "A-1"))
    alert_at = datetime.fromisoformat("2027-12-07T00:00:00-05:00")  # 2028-01-06 less 30 days
    assert due is not None and due.replace(tzinfo=due.tzinfo or alert_at.tzinfo) == alert_at

    def expiring():
        with db.reading() as session:
            return [p.event for p in outbox.read_member(session, "retail", "A-1",
                                                        ["points.expiring"])]

    as_of = datetime.fromisoformat("2027-12-10T00:00:00Z")
    assert expiry.expire(db, "retail", as_of, cache=cache).members == 1
    raised = expiring()
    assert len(raised) == 1 and raised[0].payload["points"] > 0
    assert raised[0].payload["expires_at"].startswith("2028-01-06")
    assert expiry.expire(db, "retail", as_of, cache=cache).members == 0  # due no more
    report = expiry.expire(db, "retail", DUE, cache=cache)
    assert report.points_expired == raised[0].payload["points"]  # what the alert announced
    assert len(expiring()) == 1  # the expiry itself raised no second alert
