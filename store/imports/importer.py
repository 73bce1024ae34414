"""`loyalty import`: a history of events loaded into the store, one event at a time.

Each event goes through the store functions the HTTP API calls (so through the
lifecycle core), in file order, each in its own transaction, mapped as the simulator
replays it (store/imports/events.py). Every event carries ids derived from the history,
so sending it twice changes nothing; and how far an import got is kept (`imports`: the
lines done and a digest of them; `import_refusals`: what the service refused, by line),
so a re-run after an interruption resumes after the lines done — refused lines are never
tried again at a later state, where the answer could differ — and refuses a file whose
imported part has changed. At the end, the expiry job runs to the history's last
instant, as the simulator brings every book to it.

A program whose balances live in an external points API (store/external/accounts.py)
has what it owes the API sent before each redemption — so the balance a redemption is
assessed against holds the history's earlier points — as the service's background jobs
would have by then: the redeeming member's holds whose time ran out are released (the
expiry job, for that member, to the redemption's instant), then the `external_points`
job runs for the program; and once more at the end, after the expiry job. When the API
cannot be reached the import stops (`Unavailable`, resumable after the last line done):
a line is never refused for an outage.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

import store.campaigns.participants as participants
import store.checkout.activities as activities
import store.checkout.enrolments as enrolments
import store.checkout.member_admin as admin
import store.checkout.orders as orders
import store.checkout.refunds as refunds
import store.clock as clock
import store.external.transfers as external_transfers
import store.jobs.expiry as expiry
import store.redemptions.automatic as auto_redemption
import store.redemptions.redeem as redemptions
import store.registry.versions as registry
from engine.evaluation.request import RequestInvalid
from engine.lifecycle import MemberInactive
from engine.simulation.history import Event, EventError, read_events
from store.db.database import Database
from store.errors import BadGateway, StoreError, Unavailable
from store.imports.events import EventLoop, LineResult, Part, Refusal
from store.registry.programs import ProgramCache
from store.tables.operations import ImportRefusalRow, ImportRow
from store.tables.redemptions import RedemptionRow

ACTOR = "import"  # who the audit log says adjusted or set a status from a history

CURSOR_EVERY = 100  # lines between writes of the cursor (a refusal writes it at once)


class ImportMismatch(Exception):
    """The file's already imported lines are not the ones imported under this prefix."""


class StoreTransport:
    """The loop's calls, answered by the store functions the API's routes call."""

    def __init__(self, db: Database, cache: ProgramCache, program: str,
                 skew_seconds: float) -> None:
        self.db, self.cache, self.program, self.skew = db, cache, program, skew_seconds
        self.external = external_transfers.is_external(db, program)

    def _call(self, fn: Callable[..., Any], *args: Any) -> tuple[bool, dict[str, Any]]:
        try:
            outcome = fn(self.db, self.cache, self.program, *args)
        except (Unavailable, BadGateway):
            raise  # the points API failed: the import stops, the line is not refused
        except redemptions.Refused as exc:
            raise Refusal(exc.code, exc.message, [e["code"] for e in exc.errors or ()]) from None
        except StoreError as exc:
            raise Refusal(exc.code, exc.message) from None
        except RequestInvalid as exc:
            raise Refusal("invalid_request", str(exc)) from None
        except MemberInactive as exc:  # the API's 409 member_suspended / member_closed
            raise Refusal(exc.code, exc.message) from None
        return outcome.created, outcome.result

    def _not_ahead(self, at: str | None) -> None:
        """The API's bound: no instant more than the allowed skew ahead of the clock."""
        if at is not None and datetime.fromisoformat(at) > clock.latest_allowed(self.skew):
            raise Refusal("instant_in_future", f"{at} is ahead of the server clock by more "
                          f"than {self.skew:g} s (LOYALTY_MAX_FUTURE_SKEW_SECONDS)")

    def participate(self, campaign: str, body: dict[str, Any],
                    join: bool) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["at"])
        try:
            return participants.participate(self.db, self.cache, self.program, campaign,
                                            body["member_id"],
                                            datetime.fromisoformat(body["at"]), join)
        except StoreError as exc:
            raise Refusal(exc.code, exc.message) from None

    def enrol(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["enrolled_at"])
        return self._call(enrolments.enrol_member, body)

    def commit(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["order"]["placed_at"])
        return self._call(orders.commit, body)

    def refund(self, order_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["refunded_at"])
        return self._call(refunds.refund, order_id, body)

    def activity(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["occurred_at"])
        return self._call(activities.record, body)

    def redeem(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["as_of"])
        if self.external:  # assessed against the API's balance: bring it up to date
            expiry.expire_member(self.db, self.program, body["member_id"],
                                 datetime.fromisoformat(body["as_of"]), self.cache)
            send_owed(self.db, self.program)
        return self._call(redemptions.redeem, body)

    def cancel(self, redemption_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["cancelled_at"])
        with self.db.reading() as session:
            row = session.get(RedemptionRow, int(redemption_id))
            timed_out = row is not None and row.status == "released" and row.cancel_result is None
        if timed_out:  # released when its time ran out, not by a cancel: nothing to cancel
            raise Refusal("redemption_released", f"redemption {redemption_id} was released "
                          "when its hold timed out")
        return self._call(redemptions.cancel, redemption_id, body)

    def auto_redemption(self, member_id: str,
                        body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["as_of"])
        try:
            view = auto_redemption.configure(self.db, self.cache, self.program, member_id, body)
        except StoreError as exc:
            raise Refusal(exc.code, exc.message) from None
        return True, view

    def adjust(self, member_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["at"])
        try:
            answer = admin.adjustment(self.db, self.cache, self.program, member_id,
                                      body["points"], body["reason"], ACTOR,
                                      datetime.fromisoformat(body["at"]), body["adjustment_id"])
        except StoreError as exc:
            raise Refusal(exc.code, exc.message) from None
        return not answer.pop("replayed"), answer

    def status(self, member_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self._not_ahead(body["at"])
        try:
            answer = admin.status(self.db, self.cache, self.program, member_id, body["status"],
                                  body["reason"], ACTOR, datetime.fromisoformat(body["at"]))
        except StoreError as exc:
            raise Refusal(exc.code, exc.message) from None
        return True, answer

    def redemption_id(self, key: str) -> str | None:
        with self.db.reading() as session:
            found = session.scalar(select(RedemptionRow.id).where(
                RedemptionRow.program == self.program, RedemptionRow.idempotency_key == key))
        return None if found is None else str(found)


@dataclass
class ImportReport:
    program: str
    key_prefix: str
    lines: int = 0  # events and invalid lines read
    applied: int = 0
    replayed: int = 0  # done by an earlier run (or answered as a replay)
    resumed_after: int = 0
    declined: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    last_at: datetime | None = None
    points_expired: int = 0
    external: dict[str, int] | None = None  # transfers sent to the points API at the end

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "key_prefix": self.key_prefix, "lines": self.lines,
                "applied": self.applied, "replayed": self.replayed,
                "resumed_after": self.resumed_after, "declined": dict(sorted(
                    self.declined.items())),
                "rejected": [{"line": n, "reason": r} for n, r in self.rejected],
                "history_end": self.last_at.isoformat() if self.last_at else None,
                "points_expired": self.points_expired,
                **({"external_points": self.external} if self.external is not None else {})}


class Journal:
    """The `imports` row of (program, prefix) and its refusals."""

    def __init__(self, db: Database, program: str, prefix: str) -> None:
        self.db, self.program, self.prefix = db, program, prefix
        now = datetime.now(UTC)
        with db.writing() as session:
            row = session.scalar(select(ImportRow).where(ImportRow.program == program,
                                                         ImportRow.key_prefix == prefix))
            if row is None:
                row = ImportRow(program=program, key_prefix=prefix, line=0,
                                digest=hashlib.sha256().hexdigest(), started_at=now,
                                updated_at=now)
                session.add(row)
                session.flush()
            self.pk, self.line, self.digest = row.id, row.line, row.digest
            self.refusals: dict[int, list[Part]] = {}
            for r in session.scalars(select(ImportRefusalRow).where(
                    ImportRefusalRow.import_pk == row.id).order_by(ImportRefusalRow.id)):
                self.refusals.setdefault(r.line, []).append(
                    Part(r.part, r.outcome, list(r.codes), r.message))

    def write(self, line: int, digest: str, refusals: list[Part] = (),  # type: ignore[assignment]
              finished: bool = False) -> None:
        now = datetime.now(UTC)
        with self.db.writing() as session:
            row = session.get(ImportRow, self.pk)
            assert row is not None
            for part in refusals:
                session.add(ImportRefusalRow(import_pk=self.pk, line=line, part=part.part,
                                             outcome=part.outcome, codes=part.codes,
                                             message=part.message[:1000], created_at=now))
            row.line, row.digest, row.updated_at = line, digest, now
            row.finished_at = now if finished else None
        if refusals:
            self.refusals[line] = list(refusals)
        self.line, self.digest = line, digest


def _fingerprint(item: Event | EventError) -> bytes:
    if isinstance(item, EventError):
        return f"{item.line}\0error\0{item.message}\n".encode()
    return f"{item.line}\0{json.dumps(item.data, sort_keys=True, default=str)}\n".encode()


def run(db: Database, program: str, history: str | Path, key_prefix: str = "import",
        skew_seconds: float = 300.0, cache: ProgramCache | None = None,
        progress: Callable[[ImportReport], None] | None = None,
        progress_every: int = 1000) -> ImportReport:
    """Import `history` into `program`; resumes after the lines an earlier run under the
    same `key_prefix` finished. Raises ImportMismatch when those lines changed."""
    cache = cache if cache is not None else ProgramCache()
    with db.reading() as session:
        registry.require_program(session, program)  # else every event would be refused
    journal = Journal(db, program, key_prefix)
    transport = StoreTransport(db, cache, program, skew_seconds)
    loop = EventLoop(transport, key_prefix)
    report = ImportReport(program, key_prefix, resumed_after=journal.line)
    digest, verified = hashlib.sha256(), journal.line == 0
    for item in read_events(history):
        if not verified and item.line > journal.line:
            _verify(digest, journal, history)
            verified = True
        before = digest.copy()
        digest.update(_fingerprint(item))
        report.lines += 1
        if isinstance(item, Event):
            report.last_at = item.at if report.last_at is None else max(report.last_at, item.at)
        if item.line <= journal.line:
            _count_done(loop, report, item, journal.refusals.get(item.line, []))
            continue
        try:
            result = _apply(loop, item)
        except (Unavailable, BadGateway):  # resumable: the lines before this one are done
            if item.line - 1 > journal.line:
                journal.write(item.line - 1, before.hexdigest())
            raise
        _count(report, result, item)
        if result.refusals:
            journal.write(item.line, digest.hexdigest(), result.refusals)
        elif item.line - journal.line >= CURSOR_EVERY:
            journal.write(item.line, digest.hexdigest())
        if progress is not None and report.lines % progress_every == 0:
            progress(report)
    if not verified:
        _verify(digest, journal, history)
    journal.write(max(journal.line, _line_count(history)), digest.hexdigest(), finished=True)
    if report.last_at is not None:
        expired = expiry.expire(db, program, report.last_at, cache=cache)
        report.points_expired = expired.points_expired
    if transport.external:
        report.external = send_owed(db, program)
    return report


def send_owed(db: Database, program: str) -> dict[str, int]:
    """Send the points API everything `program` owes it (the `external_points` job for
    that program, until nothing is left, not waiting out the backoff of transfers that
    failed before): {"sent", "rejected"} transfers. Raises Unavailable when some of it
    could not be sent (a rejected transfer waits for an operator, as in the service)."""
    done = {"sent": 0, "rejected": 0}
    while True:
        ran = external_transfers.run_job(db, program, retry_now=True)
        done["sent"] += ran["sent"]
        done["rejected"] += ran["rejected"]
        if ran["retrying"] or ran["sent"] + ran["rejected"] < external_transfers.SEND_LIMIT:
            break  # all sent, or the API failed (it would fail again at once)
    stuck, why = external_transfers.unsent(db, program)
    if stuck:
        raise Unavailable("external_points_unavailable", f"{program}: {stuck} transfer(s) "
                          f"owed to the points API could not be sent ({why or 'not sent yet'})"
                          "; run the import again once it answers")
    return done


def _verify(digest: Any, journal: Journal, history: str | Path) -> None:
    if digest.hexdigest() != journal.digest:
        raise ImportMismatch(f"{history}: lines 1-{journal.line} are not the ones imported "
                             f"into {journal.program} under key prefix {journal.prefix!r}; "
                             "import another history with another --key-prefix")


def _line_count(history: str | Path) -> int:
    with open(history, "rb") as stream:
        return sum(1 for _ in stream)


def _apply(loop: EventLoop, item: Event | EventError) -> LineResult:
    if isinstance(item, EventError):
        return LineResult(item.line, "rejected", [Part("event", "rejected", [], item.message)])
    return loop.handle(item)


def _count(report: ImportReport, result: LineResult, item: Event | EventError) -> None:
    if result.status == "rejected":
        report.rejected.append((result.line, next(
            p.message for p in result.refusals if p.part == "event")))
    elif result.status == "replayed":
        report.replayed += 1
    else:
        report.applied += 1
    if isinstance(item, Event):
        for part in result.refusals:
            if part.outcome == "rejected" and part.part != "event":
                report.rejected.append((result.line, f"{part.part}: {part.message}"))
            report.declined.update(part.keys(item.type, item.data.get("activity")))


def _count_done(loop: EventLoop, report: ImportReport, item: Event | EventError,
                refusals: list[Part]) -> None:
    """A line an earlier run finished: counted as it went then, remembered by the loop."""
    if isinstance(item, EventError):
        report.rejected.append((item.line, item.message))
        return
    loop.skip(item, refusals)
    rejected = any(p.outcome == "rejected" and p.part == "event" for p in refusals)
    _count(report, LineResult(item.line, "rejected" if rejected else "replayed", refusals), item)
