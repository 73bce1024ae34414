"""Which program a changed file belongs to, in a repository of rulesets.

A program is a folder of YAML files with a `program.yaml` (or `program.yml`) that declares
`program:` at its top level, its rule test suites in `tests/`; or a single YAML file that
declares `program:` itself (any other name). Hooks and CI are handed changed files (and maybe
folders); each is mapped to the program it belongs to, once, in the order first seen:

    programs_of(["retail/earning.yaml", "retail/tests/tiers_test.yaml", "README.md"])
    → Programs(folders=[Path("retail")], other=["README.md"])

A deleted file still maps to its program while the program's folder exists. A folder in no
program stands for the program folders right inside it (`programs/` for every program).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

YAML_SUFFIXES = (".yaml", ".yml")
_DECLARES_PROGRAM = re.compile(r"^program\s*:", re.MULTILINE)
READ_LIMIT = 1 << 20  # bytes of a file read to find `program:` (rulesets are far smaller)


@dataclass
class Programs:
    """The programs the paths belong to (folders, or single-file rulesets), and the paths
    that belong to none."""

    folders: list[Path] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


def declares_program(file: Path) -> bool:
    """Whether a YAML file has a top-level `program:` key (read as text: no parsing, so a
    file with a syntax error still counts, and its errors are reported by validation)."""
    if file.suffix not in YAML_SUFFIXES or not file.is_file():
        return False
    try:
        with file.open("r", encoding="utf-8", errors="replace") as stream:
            return bool(_DECLARES_PROGRAM.search(stream.read(READ_LIMIT)))
    except OSError:
        return False


PROGRAM_FILES = ("program.yaml", "program.yml")


def is_program_folder(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(declares_program(folder / name) for name in PROGRAM_FILES)
    except OSError:
        return False


def program_of(path: Path) -> Path | None:
    """The program folder holding `path` (itself, or its nearest folder above that is one,
    not above the repository's top, the folder with `.git`), or a single-file ruleset."""
    if path.name not in PROGRAM_FILES and declares_program(path):
        return path
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        if is_program_folder(folder):
            return folder
        if (folder / ".git").exists() or folder == Path(folder.anchor):
            break
    return None


def programs_of(paths: Iterable[str | Path]) -> Programs:
    """Each program the paths belong to, once (see the module's description)."""
    out = Programs()
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        found = program_of(path)
        inside = [found] if found is not None else programs_under(path)
        if not inside:
            out.other.append(str(raw))
        for folder in inside:
            key = folder.resolve()
            if key not in seen:
                seen.add(key)
                out.folders.append(_relative(folder))
    return out


def programs_under(folder: Path) -> list[Path]:
    """The program folders right inside a folder that is in no program (`programs/`)."""
    try:
        children = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return []
    return [child for child in children if is_program_folder(child)]


def _relative(path: Path) -> Path:
    """The path as short as it can be written from here (for messages)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()) if path.is_absolute() else path
    except ValueError:
        return path
