"""The JSON Schema half of ruleset validation: a fast yes/no check, and human messages.

``jsonschema`` walks a 1,000-rule ruleset in about a second on a small machine, far over
the compile budget. So the schema is also compiled here into plain Python closures that
answer only "valid or not" for the keywords the shipped schemas use. Valid rulesets (the
common, time-critical case) stop there; an invalid one is walked again by
``Draft202012Validator.iter_errors`` to collect every error, each turned into a located,
human :class:`RulesetError`. If the schema ever uses a keyword the fast check does not
know, it is not built and every ruleset takes the ``jsonschema`` path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from engine.errors import RulesetError, format_path
from engine.language.loader import LoadedRuleset
from schemas import load_schema, validator

__all__ = ["did_you_mean", "json_type", "located", "schema_errors", "show"]

Check = Callable[[Any], bool]
Path_ = tuple[str | int, ...]
_ANNOTATIONS = {"description", "title", "errorMessage", "default", "$comment", "$schema",
                "$id", "$defs", "examples", "format"}
_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false",
               "null": "null"}


def schema_errors(loaded: LoadedRuleset, schema: str = "ruleset") -> list[RulesetError]:
    """Every error schema ``schema`` finds in a loaded YAML document (a ruleset, or a test
    suite with ``"test-suite"``), located and phrased for people (unsorted)."""
    fast = _fast_check() if schema == "ruleset" else None
    if fast is not None and fast(loaded.data):
        return []
    errors: list[RulesetError] = []
    for error in _validator(schema).iter_errors(loaded.data):
        errors.extend(_humanize(error, tuple(error.absolute_path), loaded))
    return errors


@cache
def _validator(schema: str = "ruleset") -> Any:
    # Test suites carry the evaluation request's money (``multipleOf``), which needs the
    # decimal-aware validator; the ruleset schema is checked as it always was.
    if schema == "ruleset":
        return Draft202012Validator(load_schema("ruleset"))
    return validator(schema)


@cache
def _fast_check() -> Check | None:
    schema = load_schema("ruleset")
    try:
        return _Compiler(schema).compile(schema)
    except _Unsupported:
        return None


# -- the fast check ---------------------------------------------------------------------

class _Unsupported(Exception):
    pass


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = root.get("$defs", {})
        self.compiled: dict[str, Check] = {}

    def ref(self, ref: str) -> Check:
        if not ref.startswith("#/$defs/") or ref[8:] not in self.defs:
            raise _Unsupported(ref)
        name = ref[8:]
        if name not in self.compiled:
            cell: list[Check] = []
            self.compiled[name] = lambda v: cell[0](v)  # noqa: PLW0108 - recursive defs resolve late
            cell.append(self.compile(self.defs[name]))
        return self.compiled[name]

    def compile(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return lambda v: True
        if schema is False:
            return lambda v: False
        checks: list[Check] = []
        unknown = set(schema) - _ANNOTATIONS - {
            "type", "properties", "additionalProperties", "required", "propertyNames",
            "minProperties", "maxProperties", "items", "minItems", "maxItems", "uniqueItems",
            "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum",
            "anyOf", "allOf", "oneOf", "not", "if", "then", "else", "$ref"}
        if unknown:
            raise _Unsupported(", ".join(sorted(unknown)))
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "type" in schema:
            names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
            tests = [_TYPES[n] for n in names]
            checks.append(lambda v: any(t(v) for t in tests))
        checks.extend(self.object_checks(schema))
        checks.extend(self.array_checks(schema))
        checks.extend(self.scalar_checks(schema))
        if "anyOf" in schema:
            some = [self.compile(s) for s in schema["anyOf"]]
            checks.append(lambda v: any(s(v) for s in some))
        if "allOf" in schema:
            every = [self.compile(s) for s in schema["allOf"]]
            checks.append(lambda v: all(s(v) for s in every))
        if "oneOf" in schema:
            ones = [self.compile(s) for s in schema["oneOf"]]
            checks.append(lambda v: sum(1 for s in ones if s(v)) == 1)
        if "not" in schema:
            negated = self.compile(schema["not"])
            checks.append(lambda v: not negated(v))
        if "if" in schema:
            cond, then = self.compile(schema["if"]), self.compile(schema.get("then", True))
            other = self.compile(schema.get("else", True))
            checks.append(lambda v: then(v) if cond(v) else other(v))
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(c(v) for c in checks)

    def object_checks(self, schema: dict[str, Any]) -> Iterator[Check]:
        props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is True else self.compile(extra)
        required = tuple(schema.get("required", ()))
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None
        low, high = schema.get("minProperties", 0), schema.get("maxProperties")
        if not (props or extra_check or required or names or low or high is not None):
            return

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            if not low <= len(v) <= (high if high is not None else len(v)):
                return False
            if any(k not in v for k in required):
                return False
            for k, item in v.items():
                sub = props.get(k, extra_check)
                if sub is not None and not sub(item):
                    return False
                if names is not None and not names(k):
                    return False
            return True
        yield check

    def array_checks(self, schema: dict[str, Any]) -> Iterator[Check]:
        items = self.compile(schema["items"]) if "items" in schema else None
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        unique = schema.get("uniqueItems", False)
        if items is None and not low and high is None and not unique:
            return

        def check(v: Any) -> bool:
            if not isinstance(v, list):
                return True
            if len(v) < low or (high is not None and len(v) > high):
                return False
            if unique and (not all(isinstance(x, str) for x in v) or len(set(v)) != len(v)):
                return False  # not surely unique: let jsonschema decide
            return items is None or all(items(x) for x in v)
        yield check

    def scalar_checks(self, schema: dict[str, Any]) -> Iterator[Check]:
        if "enum" in schema or "const" in schema:
            allowed = schema["enum"] if "enum" in schema else [schema["const"]]
            yield lambda v: any(_same(v, a) for a in allowed)
        if "pattern" in schema:
            pattern = re.compile(schema["pattern"])
            yield lambda v: not isinstance(v, str) or pattern.search(v) is not None
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if low or high is not None:
            yield lambda v: not isinstance(v, str) or low <= len(v) <= (high or len(v))
        if "minimum" in schema:
            minimum = schema["minimum"]
            yield lambda v: not _is_number(v) or v >= minimum
        if "maximum" in schema:
            maximum = schema["maximum"]
            yield lambda v: not _is_number(v) or v <= maximum


# -- human messages ---------------------------------------------------------------------

def located(loaded: LoadedRuleset, path: Path_, message: str, hint: str | None = None,
            key: bool = False) -> RulesetError:
    """A RulesetError at the node ``path`` (at its key, for problems with the key itself)."""
    file, line, col = loaded.key_position(path) if key else loaded.position(path)
    return RulesetError(file, line, col, format_path(path), message, hint)


def _humanize(error: ValidationError, path: Path_, loaded: LoadedRuleset
              ) -> Iterator[RulesetError]:
    kind, value, schema = error.validator, error.instance, error.schema
    custom = schema.get("errorMessage") if isinstance(schema, dict) else None
    if "propertyNames" in error.schema_path:
        note = f": {custom}" if custom else ""
        yield located(loaded, (*path, value), f"key '{value}' is not allowed here{note}",
                      key=True)
    elif kind == "additionalProperties":
        known = list(schema.get("properties", {}))
        for extra in (k for k in value if k not in known):
            yield located(loaded, (*path, extra), f"unknown key '{extra}'",
                          did_you_mean(extra, known, "Allowed keys: "), key=True)
    elif kind == "required":
        needed_by = ""
        if "then" in error.schema_path and isinstance(value.get("type"), str):
            what = path[-1] if path and isinstance(path[-1], str) else "campaign"
            needed_by = f" (type '{value['type']}' needs it)" if what == "account" \
                else f" (a {value['type']} campaign needs it)"
        for missing in (k for k in error.validator_value if k not in value):
            yield located(loaded, path, f"missing required key '{missing}'{needed_by}")
    elif kind == "not" and custom:
        for clause in error.validator_value.get("anyOf", []):
            for extra in (k for k in clause.get("required", []) if k in value):
                yield located(loaded, (*path, extra), f"key '{extra}' does not apply here: "
                              f"{custom}", "Remove it, or change the campaign's type.", key=True)
    elif kind in ("anyOf", "oneOf") and not schema.get("title") and error.context:
        branch, wanted = _branch(error)
        for sub in branch:
            yield from _humanize(sub, tuple(sub.absolute_path), loaded)
        if not branch:
            message = f"expected {' or '.join(wanted)}, got {json_type(value)}" if wanted \
                else error.message
            yield located(loaded, path, message)
    elif kind in ("anyOf", "oneOf") and schema.get("title"):
        title = schema["title"]
        allowed = {b.get("type") for b in schema[kind]}
        if not any(_is_type(value, t) for t in allowed):
            yield located(loaded, path, f"expected a {title}, got {json_type(value)}")
        else:
            yield located(loaded, path, f"{show(value)} is not a valid {title}",
                          schema.get("description"))
    else:
        hint = None
        if kind == "enum" and isinstance(value, str):
            hint = did_you_mean(value, [str(v) for v in error.validator_value])
        yield located(loaded, path, _message(kind, value, error, custom), hint)


def _branch(error: ValidationError) -> tuple[list[ValidationError], list[str]]:
    """The errors of the one alternative of an untitled ``anyOf``/``oneOf`` whose type fits
    the value (a fixture name or an inline member: an inline member's own mistakes); when
    none fits, the types the alternatives take instead (empty when that is not the
    trouble)."""
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    misfits = {index: [s for s in subs if s.validator == "type" and not s.relative_path]
               for index, subs in by_branch.items()}
    fitting = [subs for index, subs in by_branch.items() if not misfits[index]]
    if len(fitting) == 1:
        return fitting[0], []
    if fitting:
        return [], []
    names = [_TYPE_NAMES.get(name, name) for subs in misfits.values() for s in subs
             for name in ([s.validator_value] if isinstance(s.validator_value, str)
                          else s.validator_value)]
    return [], list(dict.fromkeys(names))


def _message(kind: Any, value: Any, error: ValidationError, custom: str | None) -> str:
    limit = error.validator_value
    if kind == "type":
        names = [limit] if isinstance(limit, str) else list(limit)
        return (f"expected {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}, "
                f"got {json_type(value)}")
    if kind == "enum":
        return f"{show(value)} is not one of: {', '.join(map(str, limit))}"
    if kind == "minimum":
        return f"must be at least {limit}, got {show(value)}"
    if kind == "maximum":
        return f"must be at most {limit}, got {show(value)}"
    if kind == "minItems":
        return f"needs at least {limit} item{'s' if limit != 1 else ''}"
    if kind == "uniqueItems":
        return "lists the same item more than once"
    if kind == "minLength":
        return "must not be empty"
    if kind in ("minProperties", "maxProperties") and custom:
        keys = ", ".join(str(k) for k in value if k != "field") or "none"
        return f"{custom} (found: {keys})"
    if custom:
        return f"{show(value)} is not valid: {custom}"
    if kind == "pattern":
        return f"{show(value)} does not match the expected form {limit}"
    return error.message


def did_you_mean(word: str, choices: list[str], fallback: str | None = None) -> str | None:
    """'Did you mean …?' for a close choice, else ``fallback`` + the choices when few."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"Did you mean '{close[0]}'?"
    if fallback and choices and len(choices) <= 16:
        return fallback + ", ".join(choices) + "."
    return None


def _is_type(value: Any, name: Any) -> bool:
    return json_type(value) == name or (name == "number" and json_type(value) == "integer")


def json_type(value: Any) -> str:
    """The JSON/YAML type name of a loaded value, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return "null" if value is None else type(value).__name__


def show(value: Any) -> str:
    """A short rendering of a value for messages."""
    text = f"'{value}'" if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
