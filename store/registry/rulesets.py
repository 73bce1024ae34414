"""Registry use cases for the CLI and the API: publish from sources, describe, diff."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import store.clock as clock
import store.registry.versions as registry
from engine import load_program
from engine.language.diff import Diff, diff
from store.db.database import Database
from store.errors import Forbidden
from store.registry.programs import ProgramCache


def version_json(info: registry.VersionInfo) -> dict[str, Any]:
    return {"program": info.program, "version": info.version, "digest": info.digest,
            "author": info.author, "message": info.message,
            "created_at": info.created_at.isoformat(),
            "effective_from": info.effective_from.isoformat() if info.effective_from else None}


def activation_json(act: registry.Activation) -> dict[str, Any]:
    return {"program": act.program, "version": act.version,
            "effective_from": act.effective_from.isoformat(),
            "activated_at": act.activated_at.isoformat(), "author": act.author}


def publish(db: Database, sources: dict[str, str], author: str, message: str = "",
            activate: str = "no", only_program: str | None = None) -> tuple[dict[str, Any], bool]:
    """Validate (raises RulesetInvalid) and store; optionally activate now or at the
    version's declared effective_from. Returns (description, created). `only_program`:
    the publisher may publish that program only (a program-bound key)."""
    program = load_program(sources)
    if only_program is not None and program.program != only_program:
        raise Forbidden("forbidden_program", f"this key serves program {only_program!r} "
                        f"only, not {program.program!r}", pointer="/sources")
    with db.writing() as session:
        info, created = registry.publish(session, program, author, message)
        out = version_json(info)
        if activate != "no":
            act = registry.activate(session, program.program, program.version, author,
                                    at_declared=activate == "effective_from")
            out["activation"] = activation_json(act)
    return out, created


def activate(db: Database, program: str, version: int, author: str,
             effective_from: datetime | None = None, at_declared: bool = False) -> dict[str, Any]:
    with db.writing() as session:
        return activation_json(registry.activate(session, program, version, author,
                                                 effective_from, at_declared))


def listing(db: Database, cache: ProgramCache, program: str | None = None) -> dict[str, Any]:
    now = clock.now()
    with db.reading() as session:
        versions = registry.versions(session, program)
        acts = registry.activations(session, program)
    by_program: dict[str, list[registry.Activation]] = {}
    for act in acts:
        by_program.setdefault(act.program, []).append(act)
    programs: dict[str, Any] = {}
    for info in versions:
        entry = programs.setdefault(info.program, {
            "program": info.program,
            "live_version": registry.live_version(by_program.get(info.program, []), now),
            "scheduled": [activation_json(a) for a in by_program.get(info.program, [])
                          if a.effective_from > now],
            "versions": []})
        entry["versions"].append(version_json(info))
    return {"programs": list(programs.values())}


def show(db: Database, program: str, version: int) -> dict[str, Any]:
    with db.reading() as session:
        row = registry.get_version(session, program, version)
        info = version_json(registry.version_info(session, program, version))
        acts = [activation_json(a) for a in registry.activations(session, program)
                if a.version == version]
        return {**info, "activations": acts, "sources": dict(row.sources)}


def compare(db: Database, cache: ProgramCache, program: str, old: int, new: int) -> Diff:
    with db.reading() as session:
        return diff(cache.get(session, program, old), cache.get(session, program, new))
