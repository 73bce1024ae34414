"""Schema migrations (Alembic), callable from the CLI, the server and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from store.db.database import Database, normalize_url, open_database, setup_lock
from store.errors import Unavailable

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run on every start."""
    cfg = alembic_config(db)
    # SQLite: the write lock from the start (the writers' BEGIN IMMEDIATE), so a second
    # process migrating at once waits for it instead of failing with "database is locked".
    with db.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
        setup_lock(conn)  # another process migrating at once: wait, then find it done
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def head_revision() -> str:
    """The revision this version of the code needs."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None: not SQLite, or in memory)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database \
            or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


BACKENDS = ("sqlite", "postgresql")  # the databases the store supports


def shown_url(url: str) -> str:
    """`url` as it may be shown (password hidden), once it is known to name a supported
    database; raises Unavailable with one line otherwise."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        raise Unavailable("invalid_database_url",
                          f"not a database URL: {url!r} (e.g. sqlite:///./loyalty.db or "
                          "postgresql://user@host/db)") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in BACKENDS:
        raise Unavailable("invalid_database_url",
                          f"unsupported database {parsed.get_backend_name()!r} in {shown}: "
                          "use sqlite:///… or postgresql://…")
    return shown


def _unreachable(shown: str, exc: Exception) -> Unavailable:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return Unavailable("database_unreachable", f"cannot open the database at {shown}: {reason}")


def open_creating(url: str) -> Database:
    """Open the database at `url` to migrate it, creating a SQLite file (only `serve`,
    `db upgrade` and `import` do). Raises Unavailable with one line when the URL cannot
    work or the database cannot be reached."""
    shown = shown_url(url)
    try:
        db = open_database(url)
    except (SQLAlchemyError, ImportError) as exc:  # e.g. a driver that is not installed
        raise _unreachable(shown, exc) from None
    try:
        with db.engine.connect():
            pass
    except SQLAlchemyError as exc:
        db.dispose()
        raise _unreachable(shown, exc) from None
    return db


def open_current(url: str) -> Database:
    """Open an existing database at the head revision, creating and migrating nothing
    (a SQLite file is checked for before connecting, as connecting would create it).
    Raises Unavailable with one line saying what to do otherwise."""
    shown = shown_url(url)
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise Unavailable("no_database", f"no loyalty database at {path}; create it with "
                          "`loyalty db upgrade` (or start `loyalty serve`)")
    try:
        db = open_database(url, pool_size=2)
    except (SQLAlchemyError, ImportError) as exc:
        raise _unreachable(shown, exc) from None
    try:
        current = current_revision(db)
    except SQLAlchemyError as exc:
        db.dispose()
        raise _unreachable(shown, exc) from None
    head = head_revision()
    if current != head:
        db.dispose()
        if current is None:
            raise Unavailable("no_database", f"no loyalty database at {shown} (it holds no "
                              "loyalty tables); create it with `loyalty db upgrade`")
        raise Unavailable("database_outdated", f"database at revision {current}, this "
                          f"version needs {head}; run `loyalty db upgrade`")
    return db
