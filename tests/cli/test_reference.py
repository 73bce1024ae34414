"""The CLI reference is generated from `--help`, every command's help has an example, and
the examples that only read run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.main import cli
from cli.reference import REFRESH, reference, walk

ROOT = Path(__file__).resolve().parents[2]
# Commands whose examples change nothing and need no server or database: run as written.
READ_ONLY = {"loyalty", "loyalty diff", "loyalty evaluate", "loyalty explain", "loyalty schema",
             "loyalty validate", "loyalty test"}


def _examples(help_text: str) -> list[str]:
    """The command lines of the help's `Example:`/`Examples:` paragraph (continuations
    joined, comments and redirections dropped)."""
    lines = help_text.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if line.strip() in ("Example:", "Examples:")), None)
    if start is None:
        return []
    out: list[str] = []
    joined = ""
    for line in lines[start + 1:]:
        if not line.strip():
            break
        joined += " " + line.strip().removesuffix("\\")
        if not line.rstrip().endswith("\\"):
            out.append(joined.split(" #")[0].split(" >")[0].strip())
            joined = ""
    return out


COMMANDS = list(walk(cli))


def test_reference_is_up_to_date() -> None:
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == reference(), f"docs/cli.md is stale: run `{REFRESH}` from the repository root"


@pytest.mark.parametrize("path,ctx", COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_command_has_an_example(path: str, ctx: click.Context) -> None:
    help_text = ctx.get_help()
    examples = _examples(help_text)
    assert examples, f"`{path} --help` has no Example: paragraph (a click \\b paragraph)"
    for example in examples:
        # a line either sets the shell up (`export VAR=value`) or runs `loyalty`
        assert example.startswith("export ") or _command_line(example), (path, example)
    # a continued example keeps its line break (a lone backslash at a docstring's line end
    # joins the lines in Python, leaving a run of spaces inside one command)
    for example in examples:
        assert not re.search(r"\S {4,}--", example), (path, example)
    # at least one example runs this command (a group's: one of its subcommands)
    assert any(_command_line(e)[:len(path.split())] == path.split() for e in examples), \
        (path, examples)


def _command_line(example: str) -> list[str]:
    """The `loyalty …` words of an example (after VAR=value or `$(`, before a pipe)."""
    words = shlex.split(example.replace("$(", " ").replace("|", " | ").replace(")", " "))
    words = words[words.index("loyalty"):] if "loyalty" in words else []
    return words[:words.index("|")] if "|" in words else words


@pytest.mark.parametrize("path", sorted(READ_ONLY))
def test_read_only_examples_run(path: str, monkeypatch: pytest.MonkeyPatch,
                                tmp_path: Path) -> None:
    for folder in ("rulesets", "examples"):  # what the examples name, in a scratch folder
        (tmp_path / folder).symlink_to(ROOT / folder)
    monkeypatch.chdir(tmp_path)
    ran = 0
    ctx = dict(COMMANDS)[path]
    for example in _examples(ctx.get_help()):
        args = _command_line(example)[1:]
        if any("*" in a or a.startswith("my-") for a in args) or "@" in example:
            continue  # a shell glob, a placeholder file, or the registry
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, (example, result.output)
        ran += 1
    assert ran
