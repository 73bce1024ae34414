"""Member rows: lookup, and row-locked loading for writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect, bindparam, insert, inspect, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from engine.evaluation.request import Request
from store.db.upsert import insert_ignore
from store.errors import NotFound
from store.tables.core import MemberRow


@dataclass(frozen=True)
class Member:
    program: str
    member_id: str
    tier: str | None
    tier_since: datetime | None
    balance: int
    orders_count: int
    attributes: dict[str, Any]
    created_at: datetime


def view(row: Any) -> Member:
    return Member(row.program, row.member_id, row.tier, row.tier_since, row.balance,
                  row.orders_count, dict(row.attributes or {}), row.created_at)


# Statements on the hot paths are built once: building one costs more than running it.
_MEMBERS = MemberRow.__table__
_FIND = select(_MEMBERS).where(_MEMBERS.c.program == bindparam("program"),
                               _MEMBERS.c.member_id == bindparam("member_id"))
_LOCK = select(MemberRow).where(MemberRow.program == bindparam("program"),
                                MemberRow.member_id == bindparam("member_id")) \
    .with_for_update().execution_options(populate_existing=True)


class Snapshot(NamedTuple):
    """What a quote reads of the member's row (attribute access like the model's)."""

    member_id: str
    tier: str | None
    attributes: dict[str, Any] | None
    book: dict[str, Any] | None


_SNAPSHOT = select(_MEMBERS.c.member_id, _MEMBERS.c.tier, _MEMBERS.c.attributes,
                   _MEMBERS.c.book) \
    .where(_MEMBERS.c.program == bindparam("program"),
           _MEMBERS.c.member_id == bindparam("member_id"))
# Per dialect: the SQL text, the order of its parameters (None: named) and each column's
# result processor (SQLAlchemy's own, so a value reads exactly as through a Row).
_Plan = tuple[str, tuple[str, ...] | None, tuple[Any, ...]]
_PLANS: dict[str, _Plan] = {}


def _plan(dialect: Dialect) -> _Plan:
    plan = _PLANS.get(dialect.name)
    if plan is None:
        compiled = _SNAPSHOT.compile(dialect=dialect)
        order = tuple(compiled.positiontup or ()) if dialect.positional else None
        processors = tuple(column.type._cached_result_processor(dialect, None)
                           for column in _SNAPSHOT.selected_columns)
        plan = _PLANS[dialect.name] = (compiled.string, order, processors)
    return plan


def snapshot(conn: Connection, program: str, member_id: str) -> Snapshot | None:
    """The member's row as a quote needs it, read with the statement compiled once per
    dialect through the DBAPI cursor and parsed without the ORM or a Row: the cheapest
    read the store makes. Nothing is prepared on the server beyond what the driver's own
    settings allow (behind PgBouncer, `prepare_threshold=None`: nothing)."""
    sql, order, processors = _plan(conn.dialect)
    values = {"program": program, "member_id": member_id}
    params: Any = tuple(values[name] for name in order) if order is not None else values
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    finally:
        cursor.close()
    if found is None:
        return None
    return Snapshot(*(value if process is None or value is None else process(value)
                      for process, value in zip(processors, found, strict=True)))


def find(session: Session | Connection, program: str, member_id: str) -> Row[Any] | None:
    """A read-only snapshot of the member row (attribute access like the model)."""
    return session.execute(_FIND, {"program": program, "member_id": member_id}).first()


def find_many(session: Session | Connection, program: str, member_ids: list[str]) -> list[Row[Any]]:
    """`find` of several members in one query (those with a row)."""
    return list(session.execute(select(_MEMBERS).where(_MEMBERS.c.program == program,
                                                       _MEMBERS.c.member_id.in_(member_ids))))


def get(session: Session, program: str, member_id: str) -> Row[Any]:
    row = find(session, program, member_id)
    if row is None:
        raise NotFound("unknown_member", f"{program} has no member {member_id!r}")
    return row


def lock_or_create(session: Session, program: str, member_id: str, tier: str | None,
                   attributes: dict[str, Any] | None = None) -> MemberRow:
    """The member row, created when missing, locked for the rest of the transaction.

    PostgreSQL: SELECT … FOR UPDATE serializes writers per member. SQLite: the write
    transaction began IMMEDIATE, so it already holds the database's write lock."""
    row = session.scalar(_LOCK, {"program": program, "member_id": member_id})
    if row is not None:
        return row
    return create_locked(session, program, member_id, tier, attributes)


def create_locked(session: Session, program: str, member_id: str, tier: str | None,
                  attributes: dict[str, Any] | None = None) -> MemberRow:
    """`lock_or_create` after a locking read found no row: the row created (or, when a
    racing writer created it first, theirs), then locked."""
    now = datetime.now(UTC)
    values = {"program": program, "member_id": member_id, "tier": tier, "tier_since": None,
              "attributes": attributes or {}, "balance": 0, "orders_count": 0,
              "created_at": now, "updated_at": now}
    if session.get_bind().dialect.name == "postgresql":
        # the row as inserted (a row this transaction inserted is locked by it), in one
        # statement; nothing when a racing writer's row was there first: then theirs
        created = session.scalar(_CREATE_PG, values)
        if created is not None:
            return created
    else:
        insert_ignore(session, MemberRow.__table__, values, ["program", "member_id"])
    row = session.scalar(_LOCK, {"program": program, "member_id": member_id})
    assert row is not None
    return row


_CREATE_PG = postgresql.insert(MemberRow).on_conflict_do_nothing(
    index_elements=["program", "member_id"]).returning(MemberRow) \
    .execution_options(populate_existing=True)


def with_stored_attributes(req: Request,
                           member: MemberRow | Row[Any] | Snapshot | None) -> Request:
    """The request as the engine sees it in server mode: the member's stored attributes
    fill the gaps of those sent (an attribute sent as null is left out, as the API's
    models leave it out)."""
    sent = req.member.get("attributes") or {}
    if None in sent.values():
        sent = {k: v for k, v in sent.items() if v is not None}
    elif member is None or not member.attributes:
        return req
    stored = member.attributes if member is not None else None
    return req._replace(member={**req.member, "attributes": {**(stored or {}), **sent}})


def update_with_insert(session: Session, member: MemberRow, new: Any) -> None:
    """Write the member row's pending changes and insert `new` (an ORM object of another
    table, not yet added) in ONE statement on PostgreSQL (`WITH touched AS (UPDATE
    members …) INSERT … SELECT … FROM touched`): a commit's member update and its order
    row, a round trip fewer than the ORM's flush. The member's row then leaves the session
    (expunged: its changes are written, so no later flush looks at it again; the caller
    reads it, loaded, and writes no more through it); anything else pending is flushed
    first. Elsewhere (SQLite has no data-modifying WITH) the ORM's flush writes both.
    `new` stays outside the session (its id is not read back).

    The statement is built once per shape (the member columns changed, the columns
    inserted) with every value a bound parameter: its SQL text stays the same from one
    commit to the next, so SQLAlchemy compiles it once and the driver parses it once."""
    if session.get_bind().dialect.name != "postgresql":
        session.add(new)
        session.flush()
        return
    state = inspect(member)
    # only attributes set since the row was loaded keep their loaded value here
    changed = {key: state.dict[key] for key in list(state.committed_state)
               if state.attrs[key].history.has_changes()}
    session.expunge(member)
    if session.new or session.dirty or session.deleted:
        session.flush()
    table = new.__table__
    values = {column.key: getattr(new, column.key) for column in table.columns
              if getattr(new, column.key) is not None or not column.primary_key}
    statement = _with_insert(table, tuple(changed), tuple(values))
    params = {f"o_{name}": value for name, value in values.items()}
    if changed:
        params.update({f"m_{name}": value for name, value in changed.items()}, m__pk=member.id)
    session.connection().execute(statement, params)


_WITH_INSERT: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = {}


def _with_insert(table: Any, changed: tuple[str, ...], names: tuple[str, ...]) -> Any:
    """`update_with_insert`'s statement for one shape: the members' columns `changed`
    (none: a plain insert), the columns `names` of `table` inserted. Parameters: `m__pk`
    (the member's id), `m_<column>` and `o_<column>`."""
    key = (table.name, changed, names)
    statement = _WITH_INSERT.get(key)
    if statement is not None:
        return statement
    inserted = {name: bindparam(f"o_{name}", type_=table.c[name].type) for name in names}
    if not changed:
        statement = insert(table).values(inserted)
    else:
        members_table: Any = _MEMBERS
        touched = update(members_table).where(_MEMBERS.c.id == bindparam("m__pk")).values(
            {name: bindparam(f"m_{name}", type_=_MEMBERS.c[name].type) for name in changed}
        ).returning(_MEMBERS.c.id).cte("touched")
        rows = select(*inserted.values()).select_from(touched)
        statement = insert(table).from_select(list(names), rows).add_cte(touched)
    if len(_WITH_INSERT) > 256:  # shapes are few; a bound, not an expectation
        _WITH_INSERT.clear()
    _WITH_INSERT[key] = statement
    return statement
