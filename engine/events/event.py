"""The envelope of a domain event, and the one place that turns it into JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.events.catalog import EVENT_TYPES, Field

__all__ = ["DomainEvent", "payload_problems"]


@dataclass(slots=True)
class DomainEvent:
    """One domain event. The engine leaves `id` empty; the store mints a UUID when it
    writes the event. `payload` is JSON-ready (ints, strings, ISO datetimes, decimals as
    strings) and holds exactly the fields the catalog lists for `type`."""

    id: str
    type: str
    program: str
    member_id: str
    at: datetime
    ruleset_version: int
    payload: dict[str, Any]

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, id: str, type: str, program: str, member_id: str, at: datetime,
                 ruleset_version: int, payload: dict[str, Any]) -> None:
        self.id = id
        self.type = type
        self.program = program
        self.member_id = member_id
        self.at = at
        self.ruleset_version = ruleset_version
        self.payload = payload

    @classmethod
    def new(cls, type_: str, program: str, member_id: str, at: datetime,
            ruleset_version: int, payload: dict[str, Any]) -> DomainEvent:
        """An event not yet written (no id), its payload checked against the catalog:
        a wrong payload is a programming error and raises ValueError."""
        problems = payload_problems(type_, payload)
        if problems:
            raise ValueError(f"{type_} event: " + "; ".join(problems))
        if at.tzinfo is None:
            raise ValueError(f"{type_} event: `at` must be an aware instant")
        return cls("", type_, program, member_id, at.astimezone(UTC), ruleset_version,
                   payload)

    def to_json(self) -> dict[str, Any]:
        """The event as JSON (schemas/events.schema.json)."""
        return {"id": self.id, "type": self.type, "program": self.program,
                "member_id": self.member_id, "at": iso(self.at),
                "ruleset_version": self.ruleset_version, "payload": self.payload}


def iso(at: datetime) -> str:
    """An instant as ISO 8601 in UTC, the way events write every instant."""
    return at.astimezone(UTC).isoformat()


_JSON_TYPES: dict[str, type] = {
    "integer": int, "string": str, "object": dict, "null": type(None)}
_MISSING = object()


def payload_problems(type_: str, payload: Any) -> list[str]:
    """What is wrong with `payload` for an event of `type_` (empty when nothing)."""
    if type_ not in EVENT_TYPES:
        return [f"unknown event type {type_!r}"]
    return _problems(EVENT_TYPES[type_].fields, payload, "payload")


# What checking a payload against a tuple of fields needs, made once per tuple (keyed by
# its id, the tuple kept beside): every field's name and Python types (a commit and a
# simulated step check a payload for each event they make).
_PLANS: dict[int, tuple[tuple[Field, ...], frozenset[str],
                        tuple[tuple[Field, tuple[type, ...]], ...]]] = {}


def _plan(fields: tuple[Field, ...]) -> tuple[frozenset[str],
                                               tuple[tuple[Field, tuple[type, ...]], ...]]:
    found = _PLANS.get(id(fields))
    if found is None or found[0] is not fields:
        typed = tuple((f, tuple(_JSON_TYPES[name] for name in f.types)) for f in fields)
        found = _PLANS[id(fields)] = (fields, frozenset(f.name for f in fields), typed)
    return found[1], found[2]


def _problems(fields: tuple[Field, ...], value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where} must be an object"]
    names, typed = _plan(fields)
    problems = [f"{where}.{k}: not a field of this type" for k in value if k not in names]
    for f, types in typed:
        v = value.get(f.name, _MISSING)
        if v is _MISSING:
            problems.append(f"{where}.{f.name}: missing")
        elif isinstance(v, bool) or not isinstance(v, types):
            problems.append(f"{where}.{f.name}: must be {' or '.join(f.types)}")
        elif f.enum and v not in f.enum and v is not None:  # null: a nullable field's
            problems.append(f"{where}.{f.name}: must be one of {', '.join(f.enum)}")
        elif f.fields and isinstance(v, dict):
            problems.extend(_problems(f.fields, v, f"{where}.{f.name}"))
    return problems
