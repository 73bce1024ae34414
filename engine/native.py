"""Which engine modules are compiled to C (mypyc), and running them as Python instead.

`pip install -e .` (or a wheel build) compiles the modules below with mypyc, from the same
typed source, into one shared library (`engine/_native__mypyc…so`) and a small extension
module beside each source file; Python imports an extension module before a `.py` of the
same name. They are the evaluation, the member lifecycle core, the rule-engine encoding and
the simulator's replay: the code every quote, commit and simulated event runs
(docs/performance.md).

Set `LOYALTY_PURE_PYTHON=1` when installing to build nothing, or when running to import the
Python source although compiled modules are there. The build records a digest of every
engine source file (`engine/_native_manifest.json`, shipped beside the modules); when any of
them differs now (an edit or a checkout since the last install) the compiled modules would
run old code, or check values against old annotations of the modules they call, and they
call each other directly, so then *all* of them run as Python, with a warning saying how to
compile again. Digests, not file times: a wheel's install gives every file the time it was
unpacked. `compiled()` says which is running.

This module is read by `setup.py` before the package can be imported: standard library only.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

# Paths relative to the repository root (globs allowed). What a listed module must not do,
# as mypyc compiles it: rely on instances' `__dict__`, be monkeypatched, be subclassed by
# an uncompiled class, or bind one name to different exception types in one function
# (`except A as exc` … `except B as exc`: the second is checked against A's type).
# A dataclass of these modules that a hot path builds writes its `__init__` out: the one
# the decorator generates runs as Python (tests/engine/test_native_inits.py).
SOURCES = (
    "engine/calendar.py",
    "engine/engagement/plan.py",
    "engine/evaluation/*.py",
    "engine/events/event.py",
    "engine/language/model.py",
    "engine/lifecycle/*.py",
    "engine/program.py",
    "engine/rules/compile.py",
    "engine/rules/conditions.py",
    "engine/rules/encoding.py",
    "engine/rules/facts.py",
    "engine/rules/questions.py",
    "engine/simulation/history.py",
    "engine/simulation/messages.py",
    "engine/simulation/replay.py",
    "engine/simulation/sources.py",
    "engine/simulation/stats.py",
    "engine/simulation/tally.py",
)
GROUP = "engine._native"  # the shared library's module: engine/_native__mypyc…so
PURE_ENV = "LOYALTY_PURE_PYTHON"
MANIFEST = "_native_manifest.json"  # in engine/: the sources' digests at the build

_ROOT = Path(__file__).resolve().parent.parent


def source_files(root: Path = _ROOT) -> list[Path]:
    # Package `__init__` modules stay Python: a compiled package loses its `__path__`.
    return sorted(path for pattern in SOURCES for path in root.glob(pattern)
                  if path.name != "__init__.py")


def module_name(path: Path, root: Path = _ROOT) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def pure() -> bool:
    """Whether LOYALTY_PURE_PYTHON asks for the engine as Python (setup.py reads it too)."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def _extension(path: Path) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.exists():
            return candidate
    return None


def digests(root: Path = _ROOT) -> dict[str, str]:
    """SHA-256 of every engine source file, by path relative to `root` (about 2 ms)."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted((root / "engine").rglob("*.py"))}


def write_manifest(root: Path) -> None:
    """What setup.py records when it compiles."""
    (root / "engine" / MANIFEST).write_text(json.dumps(digests(root), indent=0, sort_keys=True)
                                            + "\n", encoding="utf-8")


def _stale(root: Path = _ROOT) -> list[str]:
    """The engine sources that differ from the build's (all of them: no manifest)."""
    try:
        built = json.loads((root / "engine" / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ["engine/ (compiled without a record of its sources)"]
    now = digests(root)
    return sorted(path for path in built.keys() | now.keys() if built.get(path) != now.get(path))


class _SourceFirst:
    """A meta path finder that imports the listed modules from their `.py` files."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(self, name: str, path: object = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(name)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(name, file)


_running = {"compiled": False}


def compiled() -> bool:
    """Whether the listed modules run compiled (False: as Python)."""
    return _running["compiled"]


def install() -> None:
    """Decide, before any listed module is imported, whether they run compiled."""
    if _extension(_ROOT / (GROUP.replace(".", "/") + "__mypyc.py")) is None:
        return  # no shared library (engine/_native__mypyc…so): nothing compiled
    files = source_files()
    python = pure()
    stale = [] if python else _stale()
    if python or stale:
        if stale:
            shown = ", ".join(stale[:3])
            warnings.warn(f"{shown}{' …' if len(stale) > 3 else ''} changed after the engine was "
                          "compiled: running the engine as Python. `pip install -e .` compiles "
                          f"it again ({PURE_ENV}=1 when installing builds nothing).",
                          RuntimeWarning, stacklevel=2)
        sys.meta_path.insert(0, _SourceFirst({module_name(p): p for p in files}))
        return
    _running["compiled"] = True
