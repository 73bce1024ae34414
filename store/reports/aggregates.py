"""The SQL aggregates the reports are built from: every figure is a GROUP BY in the
database over the ledger, the orders or the members — no query here returns a row per
entry or per order. A member's reports pass `member_pk`; a program's do not.

Points are counted as the simulator counts the lifecycle's entries
(engine/simulation/tally.py): `earn`, `bonus` and `adjust` entries above zero are
issued; a refund's `reverse` entries are reversed; `redeem` entries, and the `reverse`
entries that give points back (a cancel, a release), are redeemed; `expire` entries are
expired. Each is counted in the program-local month of its instant.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from store.db.types import MONEY_SCALE, UTCDateTime
from store.reports.window import Window
from store.tables.core import LedgerEntryRow, MemberRow, OrderRow

L, Ord = LedgerEntryRow, OrderRow
ISSUED = and_(L.kind.in_(("earn", "bonus", "adjust")), L.points > 0)
REFUND = and_(L.kind == "reverse", L.source_type == "refund")
GIVEN_BACK = and_(L.kind == "reverse", L.source_type != "refund")


def _sum(condition: Any, value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _ledger(program: str, member_pk: int | None) -> list[Any]:
    where = [L.program == program]
    if member_pk is not None:
        where.append(L.member_pk == member_pk)
    return where


def points_by_month(session: Session, program: str, win: Window,
                    member_pk: int | None = None) -> dict[str, dict[str, int]]:
    """{month: {issued, reversed, redeemed, expired}} of the window."""
    month = win.month_of(L.occurred_at).label("month")
    rows: Any = session.execute(
        select(month, _sum(ISSUED, L.points), _sum(REFUND, -L.points),
               _sum(L.kind == "redeem", -L.points) + _sum(GIVEN_BACK, -L.points),
               _sum(L.kind == "expire", -L.points))
        .where(*_ledger(program, member_pk), win.inside(L.occurred_at))
        .group_by(month))
    return {m: {"issued": int(i), "reversed": int(r), "redeemed": int(d), "expired": int(e)}
            for m, i, r, d, e in rows if m is not None}


def balance_before(session: Session, program: str, at: Any,
                   member_pk: int | None = None) -> int:
    """The points outstanding just before `at`: the sum of every entry before it."""
    return int(session.scalar(
        select(func.coalesce(func.sum(L.points), 0))
        .where(*_ledger(program, member_pk), L.occurred_at < literal(at, UTCDateTime()))) or 0)


def points_by_rule(session: Session, program: str, win: Window,
                   member_pk: int | None = None) -> dict[str, tuple[int, int]]:
    """{rule: (points issued, sources that earned them)} of the window."""
    rows: Any = session.execute(
        select(L.rule, func.sum(L.points), func.count(func.distinct(L.source_ref)))
        .where(*_ledger(program, member_pk), win.inside(L.occurred_at), ISSUED,
               L.rule.is_not(None))
        .group_by(L.rule))
    return {rule: (int(points), int(sources)) for rule, points, sources in rows}


def orders_by_month(session: Session, program: str, win: Window,
                    member_pk: int | None = None) -> dict[str, dict[str, Any]]:
    """{month: {orders, spend (after refunds), refunded}} of the window."""
    month = win.month_of(Ord.placed_at).label("month")
    where = [Ord.program == program, win.inside(Ord.placed_at)]
    if member_pk is not None:
        where.append(Ord.member_pk == member_pk)
    rows: Any = session.execute(
        select(month, func.count(), func.sum(Ord.qualifying_spend), func.sum(Ord.original_spend))
        .where(*where).group_by(month))
    return {m: {"orders": int(n), "spend": Decimal(spend or 0),
                "refunded": Decimal(original or 0) - Decimal(spend or 0)}
            for m, n, spend, original in rows if m is not None}


def _json(session: Session) -> tuple[Any, Any]:
    """(the order result's earned lines as a table, the text of a field of a JSON value):
    `json_each`/`json_extract` on SQLite, `json_array_elements`/`->>` on PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        line = func.json_each(Ord.result, "$.earn.lines").table_valued("value").alias("line")
        return line, lambda value, name: func.json_extract(value, f"$.{name}")
    line = func.json_array_elements(Ord.result["earn"]["lines"]).table_valued("value").alias("line")
    return line, lambda value, name: value.op("->>")(name)


def _where_orders(program: str, win: Window, member_pk: int | None) -> list[Any]:
    where = [Ord.program == program, win.inside(Ord.placed_at)]
    if member_pk is not None:
        where.append(Ord.member_pk == member_pk)
    return where


def by_category(session: Session, program: str, win: Window, member_pk: int | None = None,
                monthly: bool = False) -> dict[tuple[str, str | None], dict[str, Any]]:
    """{(category, month or None): {points, spend, lines}} of the orders placed in the
    window: the points each line earned and its amount, as the order's answer gave them
    (amounts summed as exact integer ten-thousandths on both databases)."""
    line, field = _json(session)
    category = field(line.c.value, "category")
    points = cast(field(line.c.value, "points"), BigInteger)
    amount = cast(func.round(cast(field(line.c.value, "amount"), Numeric(20, 4))
                             * int(MONEY_SCALE)), BigInteger)
    month = win.month_of(Ord.placed_at) if monthly else literal(None)
    groups = [category, month] if monthly else [category]
    rows: Any = session.execute(
        select(category, month, func.coalesce(func.sum(points), 0),
               func.coalesce(func.sum(amount), 0), func.count())
        .select_from(Ord).join(line, literal(True))
        .where(*_where_orders(program, win, member_pk)).group_by(*groups))
    return {(str(c), m): {"points": int(p), "spend": Decimal(int(a)) / MONEY_SCALE,
                          "lines": int(n)} for c, m, p, a, n in rows}


def tiers_by_month(session: Session, program: str, win: Window) -> dict[str, dict[str, int]]:
    """{month: {tier: members}}: the members who ordered in a month, by the tier their
    last order of that month left them in (the order's `tier_after`)."""
    _, field = _json(session)
    month = win.month_of(Ord.placed_at)
    ranked = (select(month.label("month"), field(Ord.result, "tier_after").label("tier"),
                     func.row_number().over(partition_by=(Ord.member_pk, month),
                                            order_by=(Ord.placed_at.desc(), Ord.id.desc()))
                     .label("n"))
              .where(*_where_orders(program, win, None)).subquery())
    rows: Any = session.execute(select(ranked.c.month, ranked.c.tier, func.count())
                           .where(ranked.c.n == 1, ranked.c.month.is_not(None))
                           .group_by(ranked.c.month, ranked.c.tier))
    out: dict[str, dict[str, int]] = {}
    for m, tier, n in rows:
        out.setdefault(m, {})[str(tier)] = int(n)
    return out


def tiers_now(session: Session, program: str) -> dict[str, int]:
    """Members by the tier they hold (as last written)."""
    rows: Any = session.execute(select(MemberRow.tier, func.count())
                           .where(MemberRow.program == program).group_by(MemberRow.tier))
    return {str(tier): int(n) for tier, n in rows}


def owing(session: Session, program: str) -> tuple[int, int]:
    """(points owed, members owing): balances below zero (refunds took back spent points)."""
    n, owed = session.execute(select(func.count(), func.coalesce(func.sum(-MemberRow.balance), 0))
                              .where(MemberRow.program == program, MemberRow.balance < 0)).one()
    return int(owed), int(n)
