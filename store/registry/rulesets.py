"""Registry use cases for the CLI and the API: publish from sources, approve, activate (or
plan an activation), describe, diff."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

import store.clock as clock
import store.registry.approvals as approvals
import store.registry.versions as registry
from engine import load_program
from engine.errors import RulesetInvalid, RulesetWarning
from engine.language.diff import Diff, diff
from engine.language.loader import load_sources
from engine.language.warnings import program_warnings
from engine.program import Program
from engine.verify import check as check_invariants
from store.db.database import Database
from store.errors import Forbidden, StoreError, Unprocessable
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
    version's declared effective_from (subject to the program's approvals). Returns
    (description with its `warnings`, created). `only_program`: the publisher may publish
    that program only (a program-bound key)."""
    program = load_program(sources)
    refused = check_invariants(program)
    if refused:
        raise RulesetInvalid(refused)
    if only_program is not None and program.program != only_program:
        raise Forbidden("forbidden_program", f"this key serves program {only_program!r} "
                        f"only, not {program.program!r}", pointer="/sources")
    with db.writing() as session:
        previous = registry.latest_before(session, program.program, program.version)
        info, created = registry.publish(session, program, author, message)
        out = {**version_json(info), "created": created,
               "warnings": publish_warnings(program, previous) if created else []}
        if activate != "no":
            out["activation"] = _activate(session, program.program, program.version, author,
                                          None, activate == "effective_from")
    return out, created


def publish_warnings(program: Program, previous: registry.VersionInfo | None) -> list[dict[str, Any]]:
    """What deserves a second look before activation, sorted: the ruleset's own warnings
    (those `loyalty validate` prints) and the registry's (an unchanged effective_from).
    Each is a dict with code, message, hint, file, line, col and path."""
    loaded = load_sources(program.sources)
    warnings = program_warnings(loaded, program.model)
    if previous is not None and program.effective_from is not None \
            and previous.effective_from == program.effective_from:
        file, line, col = loaded.position(("effective_from",))
        warnings.append(RulesetWarning(
            file, line, col, "$.effective_from",
            f"effective_from {program.effective_from.isoformat()} is the same as version "
            f"{previous.version}'s", hint="change it if this version takes effect at another "
            "instant", code="effective_from_unchanged"))
    return [warning.to_dict() for warning in sorted(warnings)]


def activate(db: Database, cache: ProgramCache, program: str, version: int, author: str,
             effective_from: datetime | None = None, at_declared: bool = False,
             dry_run: bool = False) -> dict[str, Any]:
    """Activate (or with `dry_run`, describe what activating would do, writing nothing)."""
    if dry_run:
        with db.reading() as session:
            return plan(session, cache, program, version, effective_from, at_declared)
    with db.writing() as session:
        return _activate(session, program, version, author, effective_from, at_declared)


def _activate(session: Session, program: str, version: int, author: str,
              effective_from: datetime | None, at_declared: bool) -> dict[str, Any]:
    when = registry.effective_instant(registry.get_version(session, program, version),
                                      effective_from, at_declared)
    if registry.live_at(session, program, when) == version:
        return {"program": program, "version": version, "effective_from": when.isoformat(),
                "already_live": True, "detail": _already_live(program, version, when)}
    approvals.check(session, program, version, clock.now(), when)
    _invariants_hold(session, program, version)
    return {**activation_json(registry.activate(session, program, version, author, when)),
            "already_live": False}


def _invariants_hold(session: Session, program: str, version: int) -> None:
    """Refuse to activate a version whose declared invariants fail (one published before
    the verifier could refuse it, or proven against an older evaluator)."""
    sources = registry.sources_of(session, program, version)
    if not load_sources(sources).data.get("invariants"):
        return
    errors = check_invariants(load_program(sources))
    if errors:
        first = errors[0]
        raise Unprocessable("invariant_fails", f"{program} version {version}: {first.message}",
                            pointer=f"/sources/{first.file}",
                            errors=[{**e.to_dict(), "text": str(e)} for e in errors])


def _already_live(program: str, version: int, when: datetime) -> str:
    return f"{program} version {version} is already live at {when.isoformat()}; nothing changed"


def plan(session: Session, cache: ProgramCache, program: str, version: int,
         effective_from: datetime | None = None, at_declared: bool = False) -> dict[str, Any]:
    """What activating `version` would do: the diff against the live version, the instant it
    takes effect, the activations scheduled around it, its publisher, its approvals, and
    whether it would be refused."""
    row = registry.get_version(session, program, version)
    when = registry.effective_instant(row, effective_from, at_declared)
    now = clock.now()
    timeline = registry.activations(session, program)
    live = registry.live_version(timeline, now)
    pending = [a for a in timeline if a.effective_from > now]
    already = registry.live_version(timeline, when) == version
    refusal = None
    try:
        approvals.check(session, program, version, now, when)
        _invariants_hold(session, program, version)
    except StoreError as exc:
        refusal = {"code": exc.code, "detail": exc.message}
    changes = None if live is None else \
        diff(cache.get(session, program, live), cache.get(session, program, version)).to_json()
    return {
        "dry_run": True, "program": program, "version": version,
        "effective_from": when.isoformat(), "live_version": live,
        "replaces": registry.live_version(timeline, when), "already_live": already,
        "detail": _already_live(program, version, when) if already else None,
        "diff": changes,
        "scheduled_before": [activation_json(a) for a in pending if a.effective_from <= when],
        "scheduled_after": [activation_json(a) for a in pending if a.effective_from > when],
        "published": {"author": row.author, "at": row.created_at.isoformat(),
                      "message": row.message, "digest": row.digest},
        "approvals": approvals.state(session, program, version, now, when),
        "refusal": None if already else refusal,
    }


def approve(db: Database, program: str, version: int, actor: str,
            message: str = "") -> dict[str, Any]:
    with db.writing() as session:
        return {"program": program, "version": version,
                "approvals": approvals.approve(session, program, version, actor, message)}


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
        return {**info, "activations": acts,
                "approvals": approvals.state(session, program, version, clock.now()),
                "sources": dict(row.sources)}


def compare(db: Database, cache: ProgramCache, program: str, old: int, new: int) -> Diff:
    with db.reading() as session:
        return diff(cache.get(session, program, old), cache.get(session, program, new))
