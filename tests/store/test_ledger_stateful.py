"""Hypothesis stateful test of the ledger: commits, redemptions, checkout holds (captured
by their order, released by a cancel or when their time runs out), automatic redemptions,
cancels, refunds and expiry, in any order and on a clock that only moves forward, keep
every balance equal to the sum of its ledger and never below zero, and the lots'
remaining points equal the balance.

Beside the store, the machine keeps a model of every redemption (its status, points,
order and hold deadline) and checks the store against it after every step: each
redemption's ledger footprint (one debit; one reversal once released or cancelled, never
two), captured holds that stay captured, automatic redemptions within their monthly
limit (and made whenever the limit and the balance allow), and, whenever no lot of the
member is past its date, the exact balance after each step. Two machines: retail (holds of
points and of a stocked reward) and card-rewards (the same plus automatic redemption).

Both shipped programs declare `refund_policy: clawback`: a refund takes back everything
the order earned (its first-purchase bonus too, once the whole order is refunded) but
what expired, so a balance may go below zero. The machine then checks that a member in
debt holds no points in any lot (new or returned points repay the debt first), that
every redemption is refused with NEGATIVE_BALANCE meanwhile, that the expiry job never
deepens a debt, and that over an order's refunds exactly what it earned, less what its
lots lost to expiry, was taken back. A third machine runs retail under
`forfeit_remaining`, where no balance ever goes below zero.

The last test pins a bug this machine found: a refunded order's points came back when the
redemption that held them during the refund was cancelled or released."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import and_, func, or_, select

from engine import load_program
from engine.events import EVENT_TYPES
from engine.lifecycle import MemberBook, from_json
from store.checkout import orders, refunds
from store.db.database import Database
from store.errors import Conflict, StoreError
from store.jobs import expiry
from store.redemptions import automatic as auto_redemption
from store.redemptions import redeem as redemptions
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from store.tables.core import LedgerEntryRow, MemberRow
from store.tables.events import DomainEventRow
from store.tables.redemptions import RedemptionEventRow, RedemptionRow
from tests.store.db_support import wipe
from tests.store.helpers import (
    ServerClock,
    assert_ledger_exact,
    order,
    publish_retail,
    retail_version,
)

START = datetime.fromisoformat("2026-11-17T10:00:00-05:00")
NAMES = ("A", "B")
MEMBERS = st.sampled_from(NAMES)
SHARE = st.integers(5, 130)  # redemptions ask for a share (%) of the balance: most fit
CARD = Path(__file__).resolve().parents[2] / "rulesets" / "card-rewards"
STATUSES = ("completed", "held", "captured", "released", "cancelled")
MONTHLY = 1  # card-rewards: at most one automatic redemption a month (redemption.yaml)
SETTINGS = settings(max_examples=25, stateful_step_count=40, deadline=None,
                    suppress_health_check=list(HealthCheck), phases=[Phase.generate])


def publish_card(db: Database) -> None:
    sources = {p.name: p.read_text() for p in sorted(CARD.glob("*.yaml"))}
    with db.writing() as session:
        registry.publish(session, load_program(sources), "tests", "card")
        registry.activate(session, "card-rewards", 1, "tests", at_declared=True)


def publish_retail_forfeit(db: Database) -> None:
    sources = retail_version(1)
    sources["redemption.yaml"] = sources["redemption.yaml"].replace(
        "refund_policy: clawback", "refund_policy: forfeit_remaining")
    with db.writing() as session:
        registry.publish(session, load_program(sources), "tests", "forfeit")
        registry.activate(session, "retail", 1, "tests", at_declared=True)


@dataclass(frozen=True)
class Program:
    id: str
    publish: Callable[[Database], Any]
    category: str        # what the orders buy
    reward: str          # a catalog reward the redemptions may take
    min_points: int      # the smallest redemption
    spend: int           # the largest order amount (enough to reach min_points in a few)
    timezone: str        # the program's months (automatic redemption's frequency limit)
    clawback: bool = True  # redemption.refund_policy


RETAIL = Program("retail", lambda db: publish_retail(db, 1), "electronics", "REWARD-101", 500,
                 3000, "America/New_York")
CARD_REWARDS = Program("card-rewards", publish_card, "home", "CASHBACK-25", 2500, 8000,
                       "America/Chicago")
RETAIL_FORFEIT = Program("retail", publish_retail_forfeit, "electronics", "REWARD-101", 500,
                         3000, "America/New_York", clawback=False)


@dataclass
class Redemption:
    """The model of one redemption."""

    member: str
    at: datetime              # when it was made (the machine's clock)
    kind: str                 # points | reward | automatic
    points: int
    status: str               # completed | held | captured | released | cancelled
    order_id: str | None = None
    hold_expires_at: datetime | None = None
    month: str | None = None  # automatic: the month (program time) it counts in (of `at`)


# What the store holds, read between steps.

def balance(db: Database, program: str, member: str) -> int:
    with db.reading() as session:
        return session.scalar(select(MemberRow.balance).where(
            MemberRow.program == program, MemberRow.member_id == member)) or 0


def _book(session: Any, program: str, member: str) -> MemberBook | None:
    row = session.scalar(select(MemberRow).where(MemberRow.program == program,
                                                 MemberRow.member_id == member))
    return from_json(row.book) if row is not None and row.book is not None else None


def _past_their_date(db: Database, program: str, member: str, at: datetime) -> int:
    """Points left in the member's lots whose date is at or before `at`."""
    with db.reading() as session:
        book = _book(session, program, member)
    return sum(lot.left for lot in book.lots if lot.expires_at is not None
               and lot.expires_at <= at) if book is not None else 0


def last_id(db: Database) -> int:
    with db.reading() as session:
        return session.scalar(select(func.max(LedgerEntryRow.id))) or 0


def owed(db: Database, program: str, member: str, after: int) -> int:
    """Points that refunds took back, since ledger entry `after`, from points that came
    back to a refunded order's lots (a cancel or a released hold; store.checkout.refunds.reverse_owed)."""
    with db.reading() as session:
        taken = -(session.scalar(select(func.sum(LedgerEntryRow.points)).join(
            MemberRow, MemberRow.id == LedgerEntryRow.member_pk).where(
            MemberRow.program == program, MemberRow.member_id == member,
            LedgerEntryRow.id > after, LedgerEntryRow.source_type == "refund",
            LedgerEntryRow.source_ref.like("%/owed"))) or 0)
    if taken:
        event("points back on a refunded order's lots: the refund takes them")
    return taken


def quiet(db: Database, program: str, member: str, at: datetime) -> bool:
    """No lot the member was ever credited is past its date at `at` (not even a spent
    one, which a cancel may reopen): a step at `at` expires nothing, so its effect on
    the balance is exact."""
    with db.reading() as session:
        return not session.scalar(select(func.count()).select_from(LedgerEntryRow).join(
            MemberRow, MemberRow.id == LedgerEntryRow.member_pk).where(
            MemberRow.program == program, MemberRow.member_id == member,
            LedgerEntryRow.lot.is_not(None), LedgerEntryRow.expires_at <= at))


def expired_from_order(db: Database, program: str, order_id: str) -> int:
    """Points the order's lots (its earned points and its first-purchase bonus) lost to
    expiry."""
    with db.reading() as session:
        credits = session.execute(select(LedgerEntryRow.member_pk, LedgerEntryRow.lot).where(
            LedgerEntryRow.program == program, LedgerEntryRow.lot.is_not(None),
            or_(and_(LedgerEntryRow.source_type == "order",
                     LedgerEntryRow.source_ref == order_id),
                and_(LedgerEntryRow.source_type == "activity",
                     LedgerEntryRow.source_ref == f"order:{order_id}")))).all()
        mine = {(pk, lot) for pk, lot in credits}
        expired = session.execute(select(LedgerEntryRow.member_pk, LedgerEntryRow.draws).where(
            LedgerEntryRow.program == program, LedgerEntryRow.kind == "expire")).all()
    return sum(points for pk, draws in expired for lot, points in draws or ()
               if (pk, lot) in mine)


def unexpired_points_past_their_date(db: Database, program: str, member: str,
                                     at: datetime) -> int:
    return _past_their_date(db, program, member, at)


def ledger_machine(db: Database, program: Program, automatic: bool,
                   server_clock: ServerClock) -> type[RuleBasedStateMachine]:
    zone = ZoneInfo(program.timezone)
    class Ledger(RuleBasedStateMachine):
        placed = Bundle("orders")
        redeemed = Bundle("redemptions")
        holds = Bundle("holds")

        def __init__(self) -> None:
            super().__init__()
            wipe(db)
            program.publish(db)
            self.cache = ProgramCache()
            self.now = START
            self.n = 0
            self.model: dict[str, Redemption] = {}
            self.committed: dict[str, str] = {}                  # order id → member
            self.earned: dict[str, int] = {}    # order id → its points and first-purchase bonus
            self.taken: dict[str, int] = {}     # order id → points its refunds took back
            self.auto: dict[str, tuple[bool, int, int]] = {}     # enabled, threshold, unit

        # -- the clock ------------------------------------------------------------------

        @property
        def now(self) -> datetime:
            """The model's time is the server clock: steps happen now."""
            return server_clock.now

        @now.setter
        def now(self, value: datetime) -> None:
            server_clock.now = value

        @rule(minutes=st.one_of(st.integers(1, 90), st.integers(1, 45).map(lambda d: d * 1440)))
        def advance(self, minutes: int) -> None:
            """Time only moves forward, by minutes (holds time out) or days (the next
            month: automatic redemption's limit starts again); `expire` jumps further."""
            self.now += timedelta(minutes=minutes)

        def next_id(self, prefix: str) -> str:
            self.n += 1
            return f"{prefix}-{self.n}"

        # -- the model ------------------------------------------------------------------

        def due_holds(self, member: str, at: datetime) -> list[Redemption]:
            return [r for r in self.model.values() if r.member == member
                    and r.status == "held" and r.hold_expires_at is not None
                    and r.hold_expires_at <= at]

        def used(self, member: str, month: str) -> int:
            return sum(1 for r in self.model.values() if r.kind == "automatic"
                       and r.member == member and r.month == month and r.status == "completed")

        def swept(self, member: str, at: datetime) -> None:
            """After a step that expires the member's lots at `at`, none is left past it."""
            assert not unexpired_points_past_their_date(db, program.id, member, at), (
                f"{member} still has unexpired points past their date after a step at {at}")

        # -- orders ---------------------------------------------------------------------

        def commit(self, member: str, order_id: str, amount: int) -> str | None:
            at = self.now
            before, exact = balance(db, program.id, member), quiet(db, program.id, member, at)
            mark = last_id(db)
            request = order(order_id, member=member, amount=f"{amount}.00",
                            category=program.category, placed_at=at.isoformat())
            if order_id in self.committed:  # a retry replays; another body is refused
                try:
                    assert not orders.commit(db, self.cache, program.id, request).created
                except Conflict:
                    pass
                assert balance(db, program.id, member) == before
                return None
            result = orders.commit(db, self.cache, program.id, request).result
            done = result["commit"]
            self.committed[order_id] = member
            self.earned[order_id] = result["earn"]["points"] + sum(
                a["points"] for a in result["activities"])
            if before < 0 and done["points_awarded"]:
                event("order commit: new points repay a debt")
            timed_out = self.due_holds(member, at)
            captured = [rid for rid, r in self.model.items() if r.member == member
                        and r.status == "held" and r.order_id == order_id and r not in timed_out]
            assert sorted(done.get("captured_redemptions", []), key=int) == captured
            for r in timed_out:
                r.status = "released"
                event("hold timed out: released by the order commit")
            for rid in captured:
                self.model[rid].status = "captured"
                event("hold captured by its order")
            self.swept(member, at)
            autos = done.get("auto_redemptions", [])
            month = at.astimezone(zone).strftime("%Y-%m")
            enabled, threshold, unit = self.auto.get(member, (False, 0, 0))
            if autos:
                assert enabled, "an automatic redemption for a member who did not opt in"
                assert self.used(member, month) + len(autos) <= MONTHLY, "over the monthly limit"
                assert all(a["points"] == unit for a in autos)
            elif enabled and self.used(member, month) < MONTHLY:
                assert done["balance"] < threshold, ("the balance reached the threshold, the "
                                                     "limit allowed it, and no automatic "
                                                     "redemption was made")
            for a in autos:
                event("automatic redemption")
                if any(r.kind == "automatic" and r.member == member and r.month == month
                       and r.status == "cancelled" for r in self.model.values()):
                    event("automatic redemption: the use a cancel gave back")
                self.model[a["id"]] = Redemption(member, at, "automatic", a["points"],
                                                 "completed", order_id, month=month)
            if not exact:
                event("order commit: lots past their date")
            if exact:
                assert done["balance"] == before + done["points_awarded"] + sum(
                    r.points for r in timed_out) - sum(a["points"] for a in autos) \
                    - owed(db, program.id, member, mark)
            return order_id

        @initialize(target=placed, amounts=st.lists(st.integers(1, program.spend),
                                                    min_size=len(NAMES), max_size=len(NAMES)))
        def open_accounts(self, amounts: list[int]) -> Any:
            """Both members' first orders (on card-rewards, A opted in beforehand)."""
            if automatic:
                self.opt_in(NAMES[0], enabled=True, threshold=2500, units=1)
            return multiple(*(self.commit(m, self.next_id("O"), amount)
                              for m, amount in zip(NAMES, amounts, strict=True)))

        @rule(target=placed, member=MEMBERS, amount=st.integers(1, program.spend))
        def earn(self, member: str, amount: int) -> str:
            order_id = self.next_id("O")
            self.commit(member, order_id, amount)
            return order_id

        @rule(target=placed, hold=holds, amount=st.integers(1, program.spend),
              by_other=st.sampled_from([False, False, False, True]),
              returned=st.sampled_from([False, False, True]))
        def checkout(self, hold: str, amount: int, by_other: bool, returned: bool) -> Any:
            """Commit the order a hold was for (now and then by the other member, whose
            order must not capture it), and now and then refund it at once (the points
            that paid for it come back)."""
            r = self.model[hold]
            member = next(m for m in NAMES if m != r.member) if by_other else r.member
            assert r.order_id is not None
            placed = self.commit(member, r.order_id, amount)
            if placed and returned:
                self.refund(placed)
            return placed or multiple()

        @rule(order_id=placed)
        def refund(self, order_id: str) -> None:
            member, at = self.committed[order_id], self.now
            before, exact = balance(db, program.id, member), quiet(db, program.id, member, at)
            mark = last_id(db)
            paid = [r for r in self.model.values() if r.member == member
                    and r.order_id == order_id and r.status == "captured"]
            timed_out = self.due_holds(member, at)
            try:
                done = refunds.refund(db, self.cache, program.id, order_id, {
                    "refund_id": self.next_id("R"), "refunded_at": at.isoformat()}).result
            except StoreError:
                assert balance(db, program.id, member) == before
                return
            for r in timed_out:  # a refund brings the member to its instant, as every step
                r.status = "released"
                event("hold timed out: released by a refund")
            # The points that paid for the order (its captured holds) come back with it.
            assert done["points_restored"] == sum(r.points for r in paid)
            for r in paid:
                r.status = "refunded"
                event("refund: a captured hold's points come back")
            self.taken[order_id] = self.taken.get(order_id, 0) + done["points_reversed"]
            if program.clawback:  # everything it earned, but what expired
                assert self.taken[order_id] + expired_from_order(db, program.id, order_id) \
                    == self.earned[order_id]
                if done["balance"] < 0:
                    event("refund: the balance went below zero")
            else:
                assert done["balance"] >= 0
            if exact:
                assert done["balance"] == before - done["points_reversed"] \
                    + done["points_restored"] + sum(r.points for r in timed_out) \
                    - owed(db, program.id, member, mark)

        # -- redemptions ----------------------------------------------------------------

        def redeem_(self, member: str, body: dict[str, Any], share: int | None = None) -> Any:
            at = self.now
            body = {"member_id": member, "as_of": at.isoformat(), **body}
            order_id = body.get("order_id")
            before, exact = balance(db, program.id, member), quiet(db, program.id, member, at)
            mark = last_id(db)
            if share is not None:
                body["points"] = max(program.min_points, before * share // 100)
            due = self.due_holds(member, at)
            try:
                made = redemptions.redeem(db, self.cache, program.id, body).result
            except StoreError as refused:
                if order_id in self.committed:
                    assert refused.code == "order_already_committed"
                elif before < 0 and not due:  # (holds timing out now may repay the debt)
                    assert refused.code == "NEGATIVE_BALANCE" and refused.status == 409
                    event("redemption refused: negative balance")
                assert balance(db, program.id, member) == before, "a refusal changed the balance"
                return multiple()
            assert before >= 0 or due, "a redemption while the balance is below zero"
            assert order_id not in self.committed, "a hold for an order already committed"
            for r in due:
                r.status = "released"
                event("hold timed out: released by a redemption")
            held = order_id is not None
            expires = at + timedelta(minutes=body.get("hold_minutes") or 30) if held else None
            assert made["status"] == ("held" if held else "completed")
            assert (datetime.fromisoformat(made["hold_expires_at"]) if held else None) == expires
            self.model[made["id"]] = Redemption(member, at, made["kind"], made["points"],
                                                made["status"], order_id, expires)
            self.swept(member, at)
            if not exact:
                event(f"{'hold' if held else 'redemption'}: lots past their date")
            if exact:  # a live hold's points are out of the balance like any redemption's
                assert made["balance"] == before + sum(r.points for r in due) - made["points"] \
                    - owed(db, program.id, member, mark)
            return made["id"]

        @rule(target=redeemed, member=MEMBERS, share=SHARE, reward=st.booleans())
        def redeem(self, member: str, share: int, reward: bool) -> Any:
            if reward:
                return self.redeem_(member, {"reward_id": program.reward})
            return self.redeem_(member, {}, share)

        @rule(targets=(redeemed, holds), member=MEMBERS, share=SHARE, reward=st.booleans(),
              minutes=st.sampled_from([None, 5, 30, 120]), total=st.integers(5, 400))
        def hold(self, member: str, share: int, reward: bool, minutes: int | None,
                 total: int) -> Any:
            body: dict[str, Any] = {"order_id": self.next_id("H"), "order_total": f"{total}.00"}
            if minutes is not None:
                body["hold_minutes"] = minutes
            if reward:
                return self.redeem_(member, {**body, "reward_id": program.reward})
            return self.redeem_(member, body, share)

        @rule(targets=(redeemed, holds), hold=holds, share=SHARE)
        def hold_again(self, hold: str, share: int) -> Any:
            """A second hold for the same checkout (refused once its order is committed)."""
            r = self.model[hold]
            return self.redeem_(r.member, {"order_id": r.order_id, "order_total": "400.00"},
                                share)

        def cancel_(self, rid: str) -> None:
            r, at = self.model[rid], self.now
            before, exact = balance(db, program.id, r.member), quiet(db, program.id, r.member, at)
            mark = last_id(db)
            if r.status in ("captured", "refunded"):
                with pytest.raises(Conflict) as refused:
                    redemptions.cancel(db, self.cache, program.id, rid, {"cancelled_at": at.isoformat()})
                assert refused.value.code == f"redemption_{r.status}"
                event("cancelling a captured hold: refused")
                assert balance(db, program.id, r.member) == before
                return
            timed_out = [o for o in self.due_holds(r.member, at) if o is not r]
            done = redemptions.cancel(db, self.cache, program.id, rid, {"cancelled_at": at.isoformat()})
            if r.status in ("released", "cancelled"):  # the points came back already
                assert not done.created and done.result["status"] == r.status
                assert balance(db, program.id, r.member) == before
                return
            assert done.created
            r.status = "released" if r.status == "held" else "cancelled"
            assert done.result["status"] == r.status
            event(f"cancelled: {r.kind} redemption, {r.status}")
            for o in timed_out:  # a cancel brings the member to its instant, as every step
                o.status = "released"
                event("hold timed out: released by a cancel")
            self.swept(r.member, at)
            if not exact:
                event("cancel: lots past their date")
            if exact:
                assert done.result["balance"] == before + r.points \
                    + sum(o.points for o in timed_out) - owed(db, program.id, r.member, mark)

        @rule(redemption=redeemed)
        def cancel(self, redemption: str) -> None:
            self.cancel_(redemption)

        # -- the expiry job -------------------------------------------------------------

        @rule(days=st.integers(1, 900), job=st.booleans())
        def expire(self, days: int, job: bool) -> None:
            """Months or years pass; the expiry job runs, or it does not and the members'
            next steps meet lots past their date."""
            self.now += timedelta(days=days)
            at = self.now
            if not job:
                return
            before = {m: (balance(db, program.id, m), quiet(db, program.id, m, at)) for m in NAMES}
            mark = last_id(db)
            due = {m: self.due_holds(m, at) for m in NAMES}
            report = expiry.expire(db, program.id, at, batch_size=1)
            assert report.holds_released == sum(len(d) for d in due.values())
            for m in NAMES:
                for r in due[m]:
                    r.status = "released"
                    event("hold timed out: released by the expiry job")
                self.swept(m, at)
                points, exact = before[m]
                if points < 0:  # expiry never deepens a debt (released holds repay it)
                    assert balance(db, program.id, m) >= points
                    event("expiry job: a member in debt")
                if exact:
                    assert balance(db, program.id, m) == points + sum(
                        r.points for r in due[m]) - owed(db, program.id, m, mark)

        # -- automatic redemption -------------------------------------------------------

        @precondition(lambda self: automatic)
        @rule(member=MEMBERS, enabled=st.sampled_from([True, True, True, False]),
              threshold=st.sampled_from([2500, 5000]), units=st.sampled_from([1, 2]))
        def opt_in(self, member: str, enabled: bool, threshold: int, units: int) -> None:
            unit = min(2500 * units, threshold)
            auto_redemption.configure(db, self.cache, program.id, member, {
                "enabled": enabled, "threshold": threshold, "unit": unit, "method": "cashback"})
            self.auto[member] = (enabled, threshold, unit)

        @precondition(lambda self: any(r.kind == "automatic" for r in self.model.values()))
        @rule(pick=st.integers(0, 50))
        def cancel_automatic(self, pick: int) -> None:
            autos = [rid for rid, r in self.model.items() if r.kind == "automatic"]
            self.cancel_(autos[pick % len(autos)])

        # -- after every step -----------------------------------------------------------

        @invariant()
        def balances_are_the_ledger(self) -> None:
            assert_ledger_exact(db, negative=program.clawback)

        @invariant()
        def redemptions_are_the_model(self) -> None:
            """Statuses as the model says (a captured hold stays captured), and each
            redemption's points left the ledger once and came back at most once."""
            with db.reading() as session:
                # a milestone's gift is outside the model; it has no ledger entry (below)
                rows = {str(row.id): row for row in session.scalars(
                    select(RedemptionRow).where(RedemptionRow.kind != "gift"))}
                entries: dict[str, list[tuple[int, str, int]]] = {}
                for ref, entry_id, kind, points in session.execute(select(
                        LedgerEntryRow.source_ref, LedgerEntryRow.id, LedgerEntryRow.kind,
                        LedgerEntryRow.points).where(LedgerEntryRow.source_type == "redemption")
                        .order_by(LedgerEntryRow.id)):
                    entries.setdefault(ref, []).append((entry_id, kind, points))
                drawn = {entry_id: sum(points for _lot, points in draws or ())
                         for entry_id, draws in session.execute(select(
                             LedgerEntryRow.id, LedgerEntryRow.draws).where(
                             LedgerEntryRow.kind == "redeem"))}
            assert rows.keys() == self.model.keys()
            assert entries.keys() <= rows.keys()
            for rid, row in rows.items():
                r = self.model[rid]
                assert (row.status, row.kind, row.points, row.order_id, row.hold_expires_at,
                        row.occurred_at) == (r.status, r.kind, r.points, r.order_id,
                                             r.hold_expires_at, r.at), rid
                assert row.ledger_entry_id is not None, rid
                footprint: list[tuple[int | None, str, int]] = [
                    (row.ledger_entry_id, "redeem", -r.points)]
                if r.status in ("released", "cancelled", "refunded"):
                    footprint.append((row.reversal_entry_id, "reverse", r.points))
                assert entries.get(rid, []) == footprint, rid
                assert drawn.get(row.ledger_entry_id) == r.points, rid

        @invariant()
        def events_tell_the_ledger(self) -> None:
            """One points event per ledger entry, written with it; each member's last one
            tells the member's balance; feed positions run 1, 2, 3… per program."""
            with db.reading() as session:
                entries = session.scalar(select(func.count()).select_from(LedgerEntryRow))
                events = session.execute(select(
                    DomainEventRow.program, DomainEventRow.position, DomainEventRow.member_id,
                    DomainEventRow.type, DomainEventRow.payload)
                    .order_by(DomainEventRow.program, DomainEventRow.position)).all()
                balances = {(m.program, m.member_id): m.balance
                            for m in session.scalars(select(MemberRow))}
            # the points events of entries (alerts such as points.expiring tell no entry)
            points = [e for e in events
                      if e.type.startswith("points.") and not EVENT_TYPES[e.type].alert]
            assert len(points) == entries
            for name in {e.program for e in events}:
                positions = [e.position for e in events if e.program == name]
                assert positions == list(range(1, len(positions) + 1))
            told = {(e.program, e.member_id): e.payload["balance"] for e in points}
            assert all(balances[key] == balance for key, balance in told.items()), told
            created = [e.payload["redemption_id"] for e in events
                       if e.type == "redemption.created"]
            # a milestone's gift (retail's first electronics order) is a redemption the
            # orders make, outside the model: one per member at most, costing nothing
            with db.reading() as session:
                gifts = session.execute(select(RedemptionRow.id, RedemptionRow.member_pk,
                                               RedemptionRow.points)
                                        .where(RedemptionRow.kind == "gift")).all()
            assert all(g.points == 0 for g in gifts)
            assert len({g.member_pk for g in gifts}) == len(gifts)
            given = {str(g.id) for g in gifts}
            assert given <= set(created)
            assert sorted(c for c in created if c not in given) == sorted(self.model)

        @invariant()
        def automatic_redemptions_within_the_limit(self) -> None:
            per_month = Counter((r.member, r.month) for r in self.model.values()
                                if r.kind == "automatic" and r.status == "completed")
            assert all(n <= MONTHLY for n in per_month.values()), per_month

        @invariant()
        def nothing_dated_after_the_clock(self) -> None:
            """Ledger entries and status changes are dated on the machine's clock (the
            fulfilment queue's events are dated on the wall clock)."""
            with db.reading() as session:
                last = [session.scalar(select(func.max(LedgerEntryRow.occurred_at))),
                        session.scalar(select(func.max(RedemptionEventRow.at)).where(
                            RedemptionEventRow.status.in_(STATUSES)))]
            assert all(at is None or at <= self.now.astimezone(UTC) for at in last), last

    return Ledger


def test_ledger_invariants_hold_in_any_order(db, server_clock):
    run_state_machine_as_test(ledger_machine(db, RETAIL, automatic=False,
                                             server_clock=server_clock), settings=SETTINGS)


def test_ledger_invariants_hold_with_automatic_redemption(db, server_clock):
    run_state_machine_as_test(ledger_machine(db, CARD_REWARDS, automatic=True,
                                             server_clock=server_clock),
                              settings=SETTINGS)


def test_ledger_invariants_hold_under_forfeit_remaining(db, server_clock):
    run_state_machine_as_test(ledger_machine(db, RETAIL_FORFEIT, automatic=False,
                                             server_clock=server_clock), settings=SETTINGS)


@pytest.mark.parametrize("held", [True, False], ids=["hold released", "redemption cancelled"])
def test_a_refund_is_not_undone_by_cancelling_what_spent_the_points(db, held):
    """A and B earn the same order and both refund it in full; A's points were spent (held
    for a checkout, or redeemed) during the refund and given back afterwards. A should end
    where B does: everything the order earned refunded (under clawback A's balance is
    below zero in between, and the points given back repay it)."""
    publish_retail(db, 1)
    cache, at = ProgramCache(), START.isoformat()
    for member in NAMES:
        orders.commit(db, cache, "retail", order(f"O-{member}", member=member, amount="1000.00",
                                                 placed_at=at))
    body: dict[str, Any] = {"member_id": "A", "points": balance(db, "retail", "A"), "as_of": at}
    if held:
        body.update(order_id="H-1", order_total="1000.00")
    spent = redemptions.redeem(db, cache, "retail", body).result
    for member in NAMES:
        refunds.refund(db, cache, "retail", f"O-{member}", {"refund_id": "R-1",
                                                            "refunded_at": at})
    # B keeps only the upgrade bonus; A owes what was spent, less that bonus.
    assert balance(db, "retail", "A") == balance(db, "retail", "B") - spent["points"] < 0
    redemptions.cancel(db, cache, "retail", spent["id"], {"cancelled_at": at})
    assert_ledger_exact(db)
    assert balance(db, "retail", "A") == balance(db, "retail", "B")  # A keeps no more than B
