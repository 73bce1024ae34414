"""Builds the engine's hot modules with mypyc (engine/native.py lists them).

Everything else about the package is in pyproject.toml. `LOYALTY_PURE_PYTHON=1 pip install
-e .` builds nothing: the engine then runs as Python (slower, same results).
"""

import runpy
import sys
from pathlib import Path

from setuptools import setup


def ext_modules() -> list:
    native = runpy.run_path(str(Path(__file__).parent / "engine" / "native.py"))
    if native["pure"]():
        return []
    from mypyc.build import mypycify

    root = Path(__file__).parent
    files = [str(path.relative_to(root)) for path in native["source_files"](root)]
    # The build's own mypy run: no config file (the project's names a plugin the isolated
    # build environment does not have), no cache (a developer's, made with every dependency
    # installed, would type what this environment cannot see); third-party imports are Any.
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    options = ["--config-file=", "--python-version", version, "--ignore-missing-imports",
               "--cache-dir=/dev/null"]
    native["write_manifest"](root)  # the sources compiled, for the check at import
    return mypycify(options + files, opt_level="3", group_name=native["GROUP"])


setup(ext_modules=ext_modules())
