"""Members' notification preferences, per program: the channels they accept, their locale,
their email address and whether they refused marketing messages.

A member without a stored row has the defaults (`DEFAULTS`): every channel, the program's
locale, no address, marketing accepted. A marketing opt-out never stops transactional
messages (a redemption's confirmation, a tier change the member must know of)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

import store.clock as clock
import store.ledger.members as members
from store.db.database import Database
from store.db.upsert import insert_ignore
from store.tables.notify import MemberPreferenceRow

CHANNELS = ("email", "webhook")  # in the order a listing shows them


@dataclass(frozen=True)
class Preferences:
    channels: tuple[str, ...] = CHANNELS
    locale: str | None = None
    email: str | None = None
    marketing_opt_out: bool = False
    updated_at: datetime | None = None  # None: never set, the defaults

    def to_json(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "locale": self.locale, "email": self.email,
                "marketing_opt_out": self.marketing_opt_out,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None}


DEFAULTS = Preferences()
_ROW = select(MemberPreferenceRow.channels, MemberPreferenceRow.locale,
              MemberPreferenceRow.email, MemberPreferenceRow.marketing_opt_out,
              MemberPreferenceRow.updated_at)


def read(session: Session | Connection, program: str, member_id: str,
         lock: bool = False) -> Preferences:
    """The member's preferences, the defaults when none were stored; `lock`: the row is
    locked for the rest of the transaction (PostgreSQL; SQLite writers hold the database)."""
    query = _ROW.where(MemberPreferenceRow.program == program,
                       MemberPreferenceRow.member_id == member_id)
    found = session.execute(query.with_for_update() if lock else query).first()
    return DEFAULTS if found is None else _of(found)


def read_many(session: Session, wanted: set[tuple[str, str]]) -> dict[tuple[str, str],
                                                                      Preferences]:
    """`read` of several (program, member id) pairs in one query: {pair: preferences}."""
    out = dict.fromkeys(wanted, DEFAULTS)
    if wanted:
        query = _ROW.add_columns(MemberPreferenceRow.program, MemberPreferenceRow.member_id)
        for found in session.execute(query.where(tuple_(
                MemberPreferenceRow.program, MemberPreferenceRow.member_id).in_(sorted(wanted)))):
            out[found.program, found.member_id] = _of(found)
    return out


def _of(found: Any) -> Preferences:
    channels = tuple(channel for channel in CHANNELS if channel in found.channels)
    return Preferences(channels, found.locale, found.email, found.marketing_opt_out,
                       found.updated_at)


def show(db: Database, program: str, member_id: str) -> dict[str, Any]:
    """The member's preferences (404 `unknown_member` for a member never seen)."""
    with db.reading() as session:
        members.get(session, program, member_id)
        return {"program": program, "member_id": member_id,
                **read(session, program, member_id).to_json()}


def change(db: Database, program: str, member_id: str, **fields: Any) -> dict[str, Any]:
    """Set the fields given (`channels`, `locale`, `email`, `marketing_opt_out`); the
    others keep their value. Answers the preferences as stored."""
    with db.writing() as session:
        members.get(session, program, member_id)
        current = _locked(session, program, member_id)
        if "channels" in fields:
            fields["channels"] = tuple(c for c in CHANNELS if c in fields["channels"])
        wanted = replace(current, **fields, updated_at=clock.now())
        source = "api" if "marketing_opt_out" in fields else None
        _store(session, program, member_id, wanted, source)
        return {"program": program, "member_id": member_id, **wanted.to_json()}


def opt_out(session: Session, program: str, member_id: str, source: str) -> bool:
    """Refuse marketing messages for the member; False when they already had."""
    current = _locked(session, program, member_id)
    if current.marketing_opt_out:
        return False
    _store(session, program, member_id,
           replace(current, marketing_opt_out=True, updated_at=clock.now()), source)
    return True


def _locked(session: Session, program: str, member_id: str) -> Preferences:
    """The preferences, under the row's lock (made with the defaults when missing), so
    that two changes of different fields at once both hold."""
    insert_ignore(session, MemberPreferenceRow.__table__, _values(
        program, member_id, replace(DEFAULTS, updated_at=clock.now())), ["program", "member_id"])
    return read(session, program, member_id, lock=True)


def _values(program: str, member_id: str, prefs: Preferences) -> dict[str, Any]:
    return {"program": program, "member_id": member_id, "channels": list(prefs.channels),
            "locale": prefs.locale, "email": prefs.email,
            "marketing_opt_out": prefs.marketing_opt_out, "opt_out_source": None,
            "updated_at": prefs.updated_at}


def _store(session: Session, program: str, member_id: str, prefs: Preferences,
           source: str | None) -> None:
    values = _values(program, member_id, prefs)
    del values["program"], values["member_id"]
    if source is None:
        del values["opt_out_source"]
    else:
        values["opt_out_source"] = source
    session.execute(update(MemberPreferenceRow)
                    .where(MemberPreferenceRow.program == program,
                           MemberPreferenceRow.member_id == member_id).values(**values))


def erase(session: Session, program: str, member_id: str) -> None:
    """A member's erasure: their email address is forgotten (their choices stay)."""
    session.execute(update(MemberPreferenceRow)
                    .where(MemberPreferenceRow.program == program,
                           MemberPreferenceRow.member_id == member_id).values(email=None))
