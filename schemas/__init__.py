"""JSON Schemas (draft 2020-12) shipped as package data: ``load_schema("ruleset")``.

``validator("test-suite")`` checks documents the way the engine reads them: numbers are
exact decimals (so ``multipleOf: 0.0001`` means "at most 4 decimal places"), and a number
without fraction counts as an integer, as the 2020-12 specification says.
``problems(name, document)`` reads floats by their shortest representation first, as
the engine does. The event and test-suite schemas hold copies of the evaluation request's
definitions (``schemas/bundle.py``), so every schema is self-contained.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

__all__ = ["SCHEMA_NAMES", "load_schema", "problems", "validator"]

_SUFFIX = ".schema.json"


def _names() -> tuple[str, ...]:
    return tuple(sorted(entry.name[: -len(_SUFFIX)] for entry in files(__name__).iterdir()
                        if entry.name.endswith(_SUFFIX)))


SCHEMA_NAMES: tuple[str, ...] = _names()


@cache
def _text(name: str) -> str:
    return files(__name__).joinpath(name + _SUFFIX).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The schema called ``name`` (``ruleset``, ``evaluation-request``, …; a trailing
    ``.schema.json`` is accepted) as a fresh dict."""
    name = name.removesuffix(_SUFFIX)
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    schema: dict[str, Any] = json.loads(_text(name))
    return schema


def _is_integer(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    if isinstance(instance, float):
        return instance.is_integer()
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return False


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


@cache
def validator(name: str) -> Any:
    """A validator for schema ``name`` whose numbers are decimals; give it documents whose
    numbers are not floats (see ``exact``)."""
    name = name.removesuffix(_SUFFIX)
    load_schema(name)  # unknown names raise here
    return _Validator(json.loads(_text(name), parse_float=Decimal))


def exact(document: Any) -> Any:
    """``document`` with every float replaced by the decimal of its shortest repr."""
    if isinstance(document, float):
        return Decimal(repr(document)) if math.isfinite(document) else document
    if isinstance(document, dict):
        return {key: exact(value) for key, value in document.items()}
    if isinstance(document, list):
        return [exact(value) for value in document]
    return document


def problems(name: str, document: Any) -> Iterator[ValidationError]:
    """What schema ``name`` says about ``document`` (floats read as the engine reads them)."""
    return validator(name).iter_errors(exact(document))
