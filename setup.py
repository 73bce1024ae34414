"""Builds the engine's hot modules with mypyc (engine/native.py lists them).

Everything else about the package is in pyproject.toml. `LOYALTY_PURE_PYTHON=1 pip install
-e .` builds nothing: the engine then runs as Python (slower, same results).
"""

import os
import runpy
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext


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
    # One C file per module (multi_file) instead of one of 20 MB, so that the C compiler
    # runs on every core (ParallelBuildExt below): the build takes half the time on two.
    extensions = mypycify(options + files, opt_level="3", group_name=native["GROUP"],
                          multi_file=True)
    for extension in extensions:
        # The group's header lies beside its C file (build/engine/, from the dotted group
        # name), the modules' C files in build/: they include it from there.
        extension.include_dirs += sorted({os.path.dirname(src) for src in extension.sources})
    return extensions


class ParallelBuildExt(build_ext):
    """Compiles an extension's C files side by side, one compiler per core, the largest
    first. setuptools compiles them one after another (its `parallel` option runs whole
    extensions side by side, and the engine is one)."""

    def build_extensions(self) -> None:
        compiler = self.compiler
        needed = ("_setup_compile", "_get_cc_args", "_compile")
        if all(hasattr(compiler, name) for name in needed):
            compiler.compile = _parallel_compile(compiler)
        super().build_extensions()


def _parallel_compile(compiler):  # type: ignore[no-untyped-def]
    # distutils' CCompiler.compile, with its loop over the objects run in threads (each
    # runs the compiler as a process).
    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=False,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
        todo = sorted((obj for obj in objects if obj in build),
                      key=lambda obj: os.path.getsize(build[obj][0]), reverse=True)

        def one(obj: str) -> None:
            src, ext = build[obj]
            compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(max_workers=_cores()) as pool:
            for _ in pool.map(one, todo):  # re-raises the first CompileError
                pass
        return objects

    return compile


def _cores() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


setup(ext_modules=ext_modules(), cmdclass={"build_ext": ParallelBuildExt})
