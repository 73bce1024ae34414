"""The CLI reference (docs/cli.md), generated from the `--help` of every command.

    python -m cli.reference > docs/cli.md

The page is the help text itself, so it cannot say something the command does not:
`tests/cli/test_reference.py` regenerates it and fails when docs/cli.md differs. Help is
rendered at a fixed width so the page does not depend on the terminal it was made in.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

from cli.main import cli

WIDTH = 88
REFRESH = "python -m cli.reference > docs/cli.md"


def walk(command: click.Command, parent: click.Context | None = None,
         name: str = "loyalty") -> Iterator[tuple[str, click.Context]]:
    """(full command name, context) of `command` and every subcommand, depth first, in
    alphabetical order."""
    settings = {"terminal_width": WIDTH, "max_content_width": WIDTH, **command.context_settings}
    ctx = command.context_class(command, info_name=name, parent=parent, **settings)
    yield ctx.command_path, ctx
    if isinstance(command, click.Group):
        for sub_name in sorted(command.commands):
            yield from walk(command.commands[sub_name], ctx, sub_name)


def reference() -> str:
    """docs/cli.md."""
    out = ["# Command-line reference", "",
           "Every `loyalty` command and subcommand with its `--help`, as the installed",
           "command prints it. This page is generated; do not edit it by hand. After",
           "changing a command, its options or its help, refresh it from the repository's",
           "root with", "", "```bash", REFRESH, "```", "",
           "(`tests/cli/test_reference.py` fails while it is stale).", ""]
    commands = list(walk(cli))
    out += [f"- [`{path}`](#{path.replace(' ', '-')})" for path, _ in commands]
    for path, ctx in commands:
        out += ["", f"## {path}", "", "```text", ctx.get_help().rstrip(), "```"]
    return "\n".join(out) + "\n"


def main() -> None:
    sys.stdout.write(reference())


if __name__ == "__main__":
    main()
