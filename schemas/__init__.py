"""JSON Schemas (draft 2020-12) shipped as package data: ``load_schema("ruleset")``."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["SCHEMA_NAMES", "load_schema"]

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
