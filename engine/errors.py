"""The one error type for rulesets: where a problem is (file, line, column, JSON path),
what it is, and — where one helps — what to do about it. A warning is the same located
finding with a stable code, about a ruleset that is valid but probably not what its
author meant."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["RulesetError", "RulesetInvalid", "RulesetWarning", "format_path", "parse_path"]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_UNPRINTABLE = re.compile("[\x00-\x1f\ud800-\udfff]")
_ESCAPE = re.compile(r"\\(u[0-9a-f]{4}|.)")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")


def format_path(path: Iterable[str | int]) -> str:
    """Render a path tuple as a JSON path: ``("campaigns", 2, "schedule")`` →
    ``$.campaigns[2].schedule``; keys that are not plain names are quoted, and control
    characters and lone surrogates in them written as ``\\uXXXX``."""
    parts = ["$"]
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _PLAIN_KEY.match(step):
            parts.append(f".{step}")
        else:
            escaped = step.replace("\\", "\\\\").replace("'", "\\'")
            escaped = _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped)
            parts.append(f"['{escaped}']")
    return "".join(parts)


def parse_path(text: str) -> tuple[str | int, ...]:
    """The path tuple of a JSON path written by :func:`format_path` (its inverse)."""
    steps: list[str | int] = []
    for plain, index, quoted in _STEP.findall(text.removeprefix("$")):
        if plain:
            steps.append(plain)
        elif index:
            steps.append(int(index))
        else:
            steps.append(_ESCAPE.sub(_unescape, quoted))
    return tuple(steps)


def _unescape(match: re.Match[str]) -> str:
    escaped = match.group(1)
    return chr(int(escaped[1:], 16)) if len(escaped) == 5 else escaped


@dataclass(frozen=True, order=True)
class RulesetError:
    """One problem in a ruleset, located at ``file:line:col`` and a JSON path.

    Errors sort by file, line, column, path and message (the hint is not compared)."""

    file: str
    line: int
    col: int
    path: str
    message: str
    hint: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.path}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, order=True)
class RulesetWarning(RulesetError):
    """A located finding that does not make a ruleset invalid, with a stable ``code``
    (``unknown_category``, ``duplicate_campaign``, …) that tools and ``--strict`` key on.

    Printed as ``file:line:col: $.path: warning[code]: message (hint: ...)``."""

    code: str = ""

    def __str__(self) -> str:
        text = (f"{self.file}:{self.line}:{self.col}: {self.path}: warning[{self.code}]: "
                f"{self.message}")
        return f"{text} (hint: {self.hint})" if self.hint else text


class RulesetInvalid(Exception):
    """A ruleset could not be loaded or is invalid; ``errors`` holds every problem, sorted."""

    def __init__(self, errors: Iterable[RulesetError]) -> None:
        self.errors: list[RulesetError] = sorted(set(errors))
        count = len(self.errors)
        summary = f"{count} problem{'s' if count != 1 else ''} in ruleset"
        super().__init__("\n".join([summary, *map(str, self.errors)]))
