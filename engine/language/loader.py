"""Load ruleset YAML into plain data while remembering where every node came from.

YAML is read safely by engine.language.yaml_reader: PyYAML's event parser (libyaml's
``CSafeLoader`` when available) feeds a small builder, so no Python object is ever
constructed from a tag, nesting is bounded without recursion, and aliases are priced as
they expand. Limits (:class:`Limits`): 1 MiB per file, 64 levels, 10,000 alias nodes
and 1 MiB of text produced by aliases.

What the data looks like:

* mappings → ``dict`` with ``str`` keys exactly as written (``yes:`` stays ``"yes"``),
  sequences → ``list``; merge keys (``<<: *base``) are applied;
* plain integers → ``int``; plain floats → ``decimal.Decimal`` built from the source text,
  so ``1.25`` is exact; ``true``/``false`` → ``bool``; ``null``/``~`` → ``None``;
* every other scalar, including unquoted dates and timestamps, → ``str`` as written.

Every node's position (1-based line and column) is kept, addressable by its path tuple
(``("campaigns", 0, "schedule", "from")``). A mapping member whose value is a scalar is
located at the value; one whose value is a block of its own at its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import RulesetError, RulesetInvalid, format_path
from engine.language.yaml_reader import DEFAULT_LIMITS, Limits, YamlReader, too_big

__all__ = ["DEFAULT_LIMITS", "Limits", "LoadedRuleset", "load_path", "load_sources"]

Path_ = tuple[str | int, ...]
Position = tuple[str, int, int]
_HEADER_KEY = "program"  # the root of a folder is located in the file naming the program


@dataclass
class LoadedRuleset:
    """A ruleset's merged data plus the source position of every node."""

    data: dict[str, Any]
    sources: dict[str, str]
    files: list[str]
    _positions: dict[str, dict[Path_, tuple[int, int]]] = field(repr=False)
    _key_positions: dict[str, dict[Path_, tuple[int, int]]] = field(repr=False)
    _section_file: dict[str, str] = field(repr=False)

    def file_of(self, path: Path_) -> str:
        """The file that defines ``path`` (the header file for the root)."""
        if path and isinstance(path[0], str) and path[0] in self._section_file:
            return self._section_file[path[0]]
        return self._section_file.get(_HEADER_KEY, self.files[0] if self.files else "")

    def position(self, path: Path_) -> Position:
        """``(file, line, col)`` of the node at ``path``, or of its nearest existing ancestor."""
        file = self.file_of(path)
        positions = self._positions.get(file, {})
        for end in range(len(path), -1, -1):
            found = positions.get(tuple(path[:end]))
            if found:
                return (file, *found)
        return (file, 1, 1)

    def key_position(self, path: Path_) -> Position:
        """Where the key of the mapping member at ``path`` is written (falls back to
        :meth:`position`)."""
        file = self.file_of(path)
        found = self._key_positions.get(file, {}).get(tuple(path))
        return (file, *found) if found else self.position(path)


def load_path(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> LoadedRuleset:
    """Load a ruleset from a ``.yaml``/``.yml`` file or a folder of them (sorted by name;
    sub-folders such as ``tests/`` are not part of the ruleset)."""
    root = Path(path)
    name = str(path)
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
        if not files:
            nested = any(p.is_dir() and any(p.glob("*.y*ml")) for p in root.iterdir())
            hint = (f"It holds ruleset folders; pass each as its own PATH, e.g. {name}/*."
                    if nested else "A ruleset folder holds one or more .yaml files.")
            raise RulesetInvalid([RulesetError(name, 1, 1, "$", "folder holds no .yaml files",
                                               hint)])
        paths = files
    elif root.is_file():
        paths = [root]
    else:
        raise RulesetInvalid([RulesetError(name, 1, 1, "$", "no such file or folder")])
    sources: dict[str, str] = {}
    errors: list[RulesetError] = []
    for file in paths:
        try:
            if file.stat().st_size > limits.max_bytes:
                errors.append(too_big(str(file), limits))
                continue
            sources[str(file)] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(RulesetError(str(file), 1, 1, "$", f"cannot read file: {exc}"))
    if errors:
        raise RulesetInvalid(errors)
    return load_sources(sources, limits)


def load_sources(sources: Mapping[str, str], limits: Limits = DEFAULT_LIMITS) -> LoadedRuleset:
    """Load a ruleset from ``{file name: YAML text}``; the files' top-level sections are
    merged in the order given. Raises :class:`RulesetInvalid` with every problem found."""
    errors: list[RulesetError] = []
    data: dict[str, Any] = {}
    positions: dict[str, dict[Path_, tuple[int, int]]] = {}
    key_positions: dict[str, dict[Path_, tuple[int, int]]] = {}
    section_file: dict[str, str] = {}
    if not sources:
        raise RulesetInvalid([RulesetError("<ruleset>", 1, 1, "$", "no ruleset files given")])
    for name, text in sources.items():
        builder = YamlReader(name, limits)
        document = builder.build(text)
        errors.extend(builder.errors)
        positions[name], key_positions[name] = builder.positions, builder.key_positions
        if document is None:
            continue
        for key, value in document.items():
            if key in section_file:
                line, col = builder.key_positions[(key,)]
                errors.append(RulesetError(
                    name, line, col, format_path((key,)),
                    f"section '{key}' is defined in more than one file",
                    f"It is already defined in {section_file[key]}; keep one of them."))
                continue
            section_file[key] = name
            data[key] = value
    if errors:
        raise RulesetInvalid(errors)
    return LoadedRuleset(data, dict(sources), list(sources), positions, key_positions,
                         section_file)


