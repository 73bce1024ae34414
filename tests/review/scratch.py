"""Scratch git repositories of programs, as a program team keeps them: the example
repository (examples/program-repo/) committed, then changed commit by commit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "program-repo"
# git as a fresh machine has it: no user or system configuration leaks in.
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Program Manager",
           "GIT_AUTHOR_EMAIL": "pm@example.com", "GIT_COMMITTER_NAME": "Program Manager",
           "GIT_COMMITTER_EMAIL": "pm@example.com", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": os.devnull,
           # `loyalty` (and `pre-commit`) of this environment first on the PATH
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=check,
                          capture_output=True, text=True)


def commit(repo: Path, message: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    git(repo, "add", "-A")
    return git(repo, "commit", "-q", "-m", message, check=check)


def example_repo(where: Path) -> Path:
    """The example program repository, copied to `where` and committed on `main`."""
    shutil.copytree(EXAMPLE, where, ignore=shutil.ignore_patterns("__pycache__", "loyalty-ci"))
    git(where, "init", "-q", "-b", "main")
    commit(where, "retail version 1")
    return where


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new` in a file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def raise_home_multiplier(repo: Path) -> None:
    """Version 2: home earns ×1.5 instead of ×1.25, and its rule test says so."""
    program = repo / "programs" / "retail"
    edit(program / "program.yaml", "version: 1", "version: 2")
    edit(program / "earning.yaml", "home: 1.25", "home: 1.5")
    edit(program / "tests" / "earning_test.yaml",
         "- name: bronze home earns x 1.25\n    member: bronze\n    cart: home-100\n"
         "    expect: {points: 125, by_rule: {earning.categories.home: 25}}",
         "- name: bronze home earns x 1.5\n    member: bronze\n    cart: home-100\n"
         "    expect: {points: 150, by_rule: {earning.categories.home: 50}}")
