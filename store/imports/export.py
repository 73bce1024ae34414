"""The store's recorded history of a program, as the event history `loyalty simulate`
reads (engine/simulation/history.py) — the inverse of the import's mapping
(store/imports/events.py: event → the service's request), so that a history imported
and exported again replays to the same figures.

What the store recorded, one event per recorded request, in instant order (ties in the
order the service committed them):

* an enrolment → `enroll` (its instant, the member's attributes, the starting tier
  when it is above the program's first, `referred_by`);
* a commit → `order` (the recorded request's order and coupon `codes`); a checkout hold the order captured
  at its own instant → the order's `redeem`, as `loyalty generate` writes it;
* a refund → `refund` (whole, or its `amount`);
* an activity → `activity` (with the referred `friend_id`);
* a redemption → `redemption` (`points`, or `reward_id` and `quantity`; a checkout hold
  its `order_id` and `order_total`), named by the service's id; a cancel of one →
  `cancel` naming it.

Left out, because the store did not record them as requests: what the service refused
(declined redemptions and activities, rejected events), automatic redemptions and
milestones' gifts (an order's consequences: the replay makes them again) and
automatic-redemption settings (the store keeps a member's current settings, not when
they were set), and joining or leaving opt-in campaigns (the member's book keeps the
campaigns joined, not when).

The rows are read in instant order, each kind a stream of its own merged as they go
(`heapq.merge`), so memory does not grow with the history — except refunds, whose
instant is in their recorded answer and which are sorted in memory (a small share of
the orders)."""

from __future__ import annotations

import heapq
import json
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import store.registry.versions as registry
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.tables.core import ActivityEventRow, MemberRow, OrderRow, RefundRow
from store.tables.operations import EnrolmentRow, ReferralRow
from store.tables.redemptions import RedemptionEventRow, RedemptionRow

BATCH = 1000  # rows fetched at a time from each stream
# redemptions an order makes (the replay of the order makes them again): not exported
ORDER_MADE = ("automatic", "gift")

# (instant, commit time, stream, row id): the order of the exported lines
Key = tuple[datetime, datetime, int, int]


def _when(text: str | None, column: datetime) -> tuple[datetime, str]:
    """The instant as recorded (with the offset it was sent with) and for sorting."""
    if text:
        return datetime.fromisoformat(text), text
    return column, column.astimezone(UTC).isoformat()


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class _Export:
    def __init__(self, session: Session, program: str, cache: ProgramCache,
                 member_id: str | None = None) -> None:
        self.session, self.program, self.cache = session, program, cache
        self.member_id = member_id
        self._first_tier: dict[int, str | None] = {}

    def rows(self, statement: Any, *also: Any) -> Iterator[Any]:
        """The rows of `statement`; for one member, theirs (or those `also` names)."""
        if self.member_id is not None:
            statement = statement.where(or_(MemberRow.member_id == self.member_id, *also))
        return iter(self.session.execute(statement.execution_options(yield_per=BATCH)))

    def _referrals(self, column: Any, mine: Any) -> Any:
        return select(column).where(ReferralRow.program == self.program, mine)

    def first_tier(self, version: int) -> str | None:
        if version not in self._first_tier:
            model = self.cache.get(self.session, self.program, version).model
            self._first_tier[version] = model.tiers.levels[0].id if model.tiers else None
        return self._first_tier[version]

    # ------------------------------------------------------------ streams
    def enrolments(self) -> Iterator[tuple[Key, str]]:
        for row, member_id, attributes in self.rows(
                select(EnrolmentRow, MemberRow.member_id, MemberRow.attributes)
                .join(MemberRow, MemberRow.id == EnrolmentRow.member_pk)
                .where(EnrolmentRow.program == self.program)
                .order_by(EnrolmentRow.occurred_at, EnrolmentRow.created_at, EnrolmentRow.id),
                # friends who enrolled naming the member as their referrer
                MemberRow.member_id.in_(self._referrals(
                    ReferralRow.friend_id, ReferralRow.referrer_id == self.member_id))):
            result = row.result or {}
            _, text = _when(result.get("enrolled_at"), row.occurred_at)
            event: dict[str, Any] = {"type": "enroll", "member_id": member_id, "at": text}
            if attributes:
                event["attributes"] = attributes
            tier = result.get("tier")
            version = result.get("ruleset_version")
            if tier is not None and version is not None and tier != self.first_tier(version):
                event["tier"] = tier
            referrer = (result.get("referral") or {}).get("referrer_id")
            if referrer:
                event["referred_by"] = referrer
            yield (row.occurred_at, row.created_at, 0, row.id), _line(event)

    def orders(self) -> Iterator[tuple[Key, str]]:
        for row, member_id in self.rows(
                select(OrderRow, MemberRow.member_id)
                .join(MemberRow, MemberRow.id == OrderRow.member_pk)
                .where(OrderRow.program == self.program)
                .order_by(OrderRow.placed_at, OrderRow.created_at, OrderRow.id)):
            order = dict(row.request["order"])
            event: dict[str, Any] = {"type": "order", "member_id": member_id,
                                     "at": order.get("placed_at") or row.placed_at.isoformat()}
            hold = self._hold_paying(row)
            event["order"] = order
            if row.request.get("codes"):
                event["codes"] = list(row.request["codes"])
            if hold is not None:
                event["redeem"] = _what(hold)
            yield (row.placed_at, row.created_at, 1, row.id), _line(event)

    def _hold_paying(self, order: OrderRow) -> RedemptionRow | None:
        """The checkout hold placed at the order's instant that the order captured."""
        return self.session.scalar(select(RedemptionRow).where(
            RedemptionRow.program == self.program, RedemptionRow.order_id == order.order_id,
            RedemptionRow.member_pk == order.member_pk, RedemptionRow.kind.not_in(ORDER_MADE),
            RedemptionRow.status.in_(("captured", "refunded")),
            RedemptionRow.occurred_at == order.placed_at).order_by(RedemptionRow.id).limit(1))

    def refunds(self) -> Iterator[tuple[Key, str]]:
        found = []
        for row, order_id, member_id in self.rows(
                select(RefundRow, OrderRow.order_id, MemberRow.member_id)
                .join(OrderRow, OrderRow.id == RefundRow.order_pk)
                .join(MemberRow, MemberRow.id == OrderRow.member_pk)
                .where(OrderRow.program == self.program)):
            result = row.result or {}
            at, text = _when(result.get("refunded_at"), row.created_at)
            event: dict[str, Any] = {"type": "refund", "member_id": member_id, "at": text,
                                     "order_id": order_id}
            if result.get("amount") is not None:
                event["amount"] = result["amount"]
            found.append(((at.astimezone(UTC), row.created_at, 2, row.id), _line(event)))
        found.sort(key=lambda item: item[0])
        return iter(found)

    def activities(self) -> Iterator[tuple[Key, str]]:
        for row, member_id in self.rows(
                select(ActivityEventRow, MemberRow.member_id)
                .join(MemberRow, MemberRow.id == ActivityEventRow.member_pk)
                .where(ActivityEventRow.program == self.program)
                .order_by(ActivityEventRow.occurred_at, ActivityEventRow.created_at,
                          ActivityEventRow.id),
                # referrals that paid the member as the friend
                ActivityEventRow.event_id.in_(self._referrals(
                    ReferralRow.event_id, ReferralRow.friend_id == self.member_id))):
            result = row.result or {}
            _, text = _when(result.get("occurred_at"), row.occurred_at)
            event: dict[str, Any] = {"type": "activity", "member_id": member_id, "at": text,
                                     "activity": row.activity}
            friend = (result.get("friend") or {}).get("member_id")
            if friend:
                event["friend_id"] = friend
            yield (row.occurred_at, row.created_at, 3, row.id), _line(event)

    def redemptions(self) -> Iterator[tuple[Key, str]]:
        for row, member_id, placed_at in self.rows(
                select(RedemptionRow, MemberRow.member_id, OrderRow.placed_at)
                .join(MemberRow, MemberRow.id == RedemptionRow.member_pk)
                .outerjoin(OrderRow, (OrderRow.program == RedemptionRow.program)
                           & (OrderRow.order_id == RedemptionRow.order_id))
                .where(RedemptionRow.program == self.program,
                       RedemptionRow.kind.not_in(ORDER_MADE),
                       RedemptionRow.status != "pending")
                .order_by(RedemptionRow.occurred_at, RedemptionRow.created_at,
                          RedemptionRow.id)):
            if placed_at == row.occurred_at and row.status in ("captured", "refunded"):
                continue  # the order's own `redeem`
            event: dict[str, Any] = {"type": "redemption", "member_id": member_id,
                                     "at": row.occurred_at.isoformat(), **_what(row),
                                     "id": str(row.id)}
            if row.order_id is not None:
                event["order_id"] = row.order_id
                if row.order_total is not None:
                    event["order_total"] = str(row.order_total)
            yield (row.occurred_at, row.created_at, 4, row.id), _line(event)

    def cancels(self) -> Iterator[tuple[Key, str]]:
        for event_row, row, member_id in self.rows(
                select(RedemptionEventRow, RedemptionRow, MemberRow.member_id)
                .join(RedemptionRow, RedemptionRow.id == RedemptionEventRow.redemption_pk)
                .join(MemberRow, MemberRow.id == RedemptionRow.member_pk)
                .where(RedemptionRow.program == self.program,
                       RedemptionRow.kind.not_in(ORDER_MADE),  # not exported: nor their cancels
                       RedemptionRow.cancel_result.is_not(None),
                       RedemptionEventRow.status.in_(("cancelled", "released")))
                .order_by(RedemptionEventRow.at, RedemptionEventRow.id)):
            event = {"type": "cancel", "member_id": member_id,
                     "at": event_row.at.isoformat(), "redemption_id": str(row.id)}
            yield (event_row.at, row.updated_at, 5, event_row.id), _line(event)


def _what(row: RedemptionRow) -> dict[str, Any]:
    """Points, or a reward and its quantity (as store/imports/events.py `_what` reads)."""
    if row.reward_id is not None:
        return {"reward_id": row.reward_id, "quantity": row.quantity}
    return {"points": row.points}


def export(db: Database, program: str, cache: ProgramCache | None = None,
           member_id: str | None = None) -> Generator[str, None, None]:
    """The recorded history of `program` as JSON lines (without newlines), in instant
    order; with `member_id`, only that member's events and the referrals that named them
    as the friend. Raises NotFound for a program that is not published."""
    cache = cache if cache is not None else ProgramCache()
    with db.reading() as session:
        registry.require_program(session, program)
        source = _Export(session, program, cache, member_id)
        streams = (source.enrolments(), source.orders(), source.refunds(),
                   source.activities(), source.redemptions(), source.cancels())
        for _, line in heapq.merge(*streams, key=lambda item: item[0]):
            yield line


def write(db: Database, program: str, out: Any, cache: ProgramCache | None = None) -> int:
    """Write the export to the text stream `out`; returns the number of lines."""
    count = 0
    for line in export(db, program, cache):
        out.write(line + "\n")
        count += 1
    return count
