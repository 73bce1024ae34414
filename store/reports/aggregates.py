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

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric, String, cast, column, func, literal, select, text
from sqlalchemy.orm import Session

from store.db.types import MONEY_SCALE, UTCDateTime
from store.reports.window import BEFORE, Window
from store.tables.core import LedgerEntryRow, MemberRow, OrderRow

L, Ord = LedgerEntryRow, OrderRow
ISSUING = ("earn", "bonus", "adjust")
WORK_MEM = "64MB"


def roomy(session: Session) -> None:
    """On PostgreSQL, memory enough for the reports' GROUP BYs to hash their few groups
    in memory (the planner cannot tell that a month `CASE` has few values, and with the
    default work_mem sorts every row to disk instead); for this transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))


def _ledger(program: str, member_pk: int | None) -> list[Any]:
    where = [L.program == program]
    if member_pk is not None:
        where.append(L.member_pk == member_pk)
    return where


@dataclass
class Ledger:
    """What one scan of the ledger gives: points by month and by rule, and before."""

    by_month: dict[str, dict[str, int]] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    # rule → (points, entries) of what orders earned: a campaign's points and orders
    by_order_rule: dict[str, tuple[int, int]] = field(default_factory=dict)
    before: int = 0  # the sum of every entry before the window
    moved: int = 0  # the sum of every entry in it


def ledger(session: Session, program: str, win: Window, member_pk: int | None = None
           ) -> Ledger:
    """One GROUP BY over the entries before the window's end: by month (or before the
    window), kind, source, credit or debit, and rule."""
    month = win.month_of(L.occurred_at, before=True).label("month")
    credit = (L.points > 0).label("credit")
    rows: Any = session.execute(
        select(month, L.kind, L.source_type, credit, L.rule, func.sum(L.points), func.count())
        .where(*_ledger(program, member_pk),
               L.occurred_at < literal(win.end, UTCDateTime()))
        .group_by(month, L.kind, L.source_type, credit, L.rule))
    out = Ledger()
    for m, kind, source, is_credit, rule, total, n in rows:
        points = int(total)
        if m == BEFORE:
            out.before += points
            continue
        out.moved += points
        figures = out.by_month.setdefault(m, dict.fromkeys(
            ("issued", "reversed", "redeemed", "expired"), 0))
        if kind in ISSUING:
            if is_credit:
                figures["issued"] += points
                if rule is not None:
                    out.by_rule[rule] = out.by_rule.get(rule, 0) + points
                    if source == "order":
                        p, c = out.by_order_rule.get(rule, (0, 0))
                        out.by_order_rule[rule] = (p + points, c + int(n))
        elif kind == "reverse" and source == "refund":
            figures["reversed"] -= points
        elif kind in ("redeem", "reverse"):
            figures["redeemed"] -= points
        elif kind == "expire":
            figures["expired"] -= points
    return out


def points_by_month(session: Session, program: str, win: Window,
                    member_pk: int | None = None) -> dict[str, dict[str, int]]:
    """{month: {issued, reversed, redeemed, expired}} of the window."""
    return ledger(session, program, win, member_pk).by_month


def orders_by_month(session: Session, program: str, win: Window,
                    member_pk: int | None = None) -> dict[str, dict[str, Any]]:
    """{month: {orders, spend (at commit), net_spend (after refunds), refunded}} of the
    window's orders: their eligible spend, what counts for tiers."""
    month = win.month_of(Ord.placed_at).label("month")
    where = [Ord.program == program, win.inside(Ord.placed_at)]
    if member_pk is not None:
        where.append(Ord.member_pk == member_pk)
    rows: Any = session.execute(
        select(month, func.count(), func.sum(Ord.qualifying_spend), func.sum(Ord.original_spend))
        .where(*where).group_by(month))
    return {m: {"orders": int(n), "spend": Decimal(original or 0),
                "net_spend": Decimal(net or 0),
                "refunded": Decimal(original or 0) - Decimal(net or 0)}
            for m, n, net, original in rows if m is not None}


def _field(session: Session) -> Any:
    """The text of a field of a JSON value: `json_extract` on SQLite, `->>` on PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return lambda value, name: func.json_extract(value, f"$.{name}")
    return lambda value, name: value.op("->>")(name)


def _lines(session: Session) -> tuple[Any, Any, Any, Any]:
    """The order answer's earned lines as a table, and a line's category, points and
    amount in ten-thousandths (exact integers on both databases). On PostgreSQL each
    line is read once into typed columns (`json_to_recordset`)."""
    if session.get_bind().dialect.name == "sqlite":
        line = func.json_each(Ord.result, "$.earn.lines").table_valued("value").alias("line")

        def field(name: str) -> Any:
            return func.json_extract(line.c.value, f"$.{name}")

        amount = cast(func.round(cast(field("amount"), Numeric(20, 4)) * int(MONEY_SCALE)),
                      BigInteger)
        return line, field("category"), cast(field("points"), BigInteger), amount
    rows = (func.json_to_recordset(func.json_extract_path(Ord.result, "earn", "lines"))
            .table_valued(column("category", String), column("points", BigInteger),
                          column("amount", Numeric(20, 4)))
            .render_derived(name="line", with_types=True))
    amount = cast(func.round(rows.c.amount * int(MONEY_SCALE)), BigInteger)
    return rows, rows.c.category, rows.c.points, amount


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
    line, category, points, amount = _lines(session)
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
    field = _field(session)
    month = win.month_of(Ord.placed_at)
    last = (select(Ord.id, month.label("month"),
                   func.row_number().over(partition_by=(Ord.member_pk, month),
                                          order_by=(Ord.placed_at.desc(), Ord.id.desc()))
                   .label("n"))
            .where(*_where_orders(program, win, None)).subquery())
    tier = field(Ord.result, "tier_after")
    rows: Any = session.execute(  # the order's answer is read for the last orders only
        select(last.c.month, tier, func.count()).join(Ord, Ord.id == last.c.id)
        .where(last.c.n == 1, last.c.month.is_not(None)).group_by(last.c.month, tier))
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
