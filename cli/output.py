"""Shared CLI plumbing: exit codes, loading rulesets and JSON inputs with clear errors."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_USAGE, EXIT_INVALID_RULESET, EXIT_TESTS_FAILED = 0, 1, 3, 4


changed_option = click.option(
    "--changed", is_flag=True,
    help="PATHS are changed files or folders (as pre-commit or `git diff --name-only` lists "
         "them): work on each program they belong to, once; paths in no program are skipped.")


def changed_programs(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The program folders (or single-file rulesets) changed paths belong to; exit 0 with a
    line when there is none (nothing to check)."""
    from engine.language.layout import programs_of

    folders = programs_of(paths).folders
    if not folders:
        click.echo("no ruleset among the changed paths")
        sys.exit(EXIT_OK)
    return tuple(str(f) for f in folders)


def cli_actor() -> str:
    """Who acts when a command works on a database directly: `cli:$USER`."""
    return f"cli:{os.environ.get('USER') or 'unknown'}"


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_program_or_exit(path: str) -> Any:
    from engine.errors import RulesetInvalid
    from engine.program import load_program

    try:
        return load_program(path)
    except RulesetInvalid as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        fail(f"{path}: {len(exc.errors)} problem(s); run `loyalty validate {path}` for details",
             EXIT_INVALID_RULESET)


def read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}")


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
