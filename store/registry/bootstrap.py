"""First start of a server: migrate, then publish and activate the shipped rulesets."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import store.registry.versions as registry
from engine import load_program
from store.db.database import Database, setup_lock
from store.db.migrate import upgrade
from store.tables.core import ProgramRow

SHIPPED = ("retail", "card-rewards", "b2b-portal")
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
EXEMPT = "exempt: installed by the system on the first start of the server"


def shipped_rulesets() -> list[Path]:
    """The shipped program folders, found through the installed `rulesets` package data
    (a namespace package: take the first search location that is a real folder)."""
    spec = importlib.util.find_spec("rulesets")
    roots = [Path(p) for p in (spec.submodule_search_locations or []) if Path(p).is_dir()] \
        if spec else []
    for root in roots:
        found = [root / n for n in SHIPPED if (root / n).is_dir() and any((root / n).glob("*.yaml"))]
        if found:
            return found
    return []


def bootstrap(db: Database, actor: str = "bootstrap") -> list[str]:
    """Migrate; publish + activate every shipped program the registry does not know yet
    (from its declared effective_from, else from the beginning). Returns what it added."""
    upgrade(db)
    added = []
    for path in shipped_rulesets():
        program = load_program(path)
        with db.writing() as session:
            setup_lock(session)  # servers starting at once install each program once
            if session.get(ProgramRow, program.program) is not None:
                continue
            registry.publish(session, program, actor, "shipped with loyalty-rules")
            # The system installing what it ships: exempt from the program's approvals.
            registry.activate(session, program.program, program.version, actor,
                              effective_from=program.effective_from or BEGINNING,
                              approvals=EXEMPT)
            added.append(program.name)
    return added
