"""Registry commands: publish, activate, diff, rulesets list/show."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from cli.db_cmd import database_option, open_db
from cli.output import fail, load_program_or_exit


def _author(author: str | None) -> str:
    return author or f"cli:{os.environ.get('USER') or 'unknown'}"


def _store_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from store.errors import StoreError

    try:
        return fn(*args, **kwargs)
    except StoreError as exc:
        fail(f"{exc.code}: {exc.message}")


@click.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("-m", "--message", default="", help="why this version exists")
@click.option("--author", default=None, help="default: cli:$USER")
@click.option("--activate", type=click.Choice(["no", "now", "effective_from"]), default="no",
              show_default=True, help="activate right after publishing")
@database_option
def publish(path: str, message: str, author: str | None, activate: str, database_url: str) -> None:
    """Validate the ruleset at PATH and store it as a new immutable version.

    \b
    Example:
      loyalty publish rulesets/retail -m "first version" --activate now
      loyalty publish rulesets/retail --activate effective_from
    """
    import store.registry.rulesets as rulesets
    from store.db.migrate import upgrade

    program = load_program_or_exit(path)  # exit 3 with located errors when invalid
    database = open_db(database_url)
    upgrade(database)
    info, created = _store_call(rulesets.publish, database, dict(program.sources),
                                _author(author), message, activate)
    verb = "published" if created else "already published (identical content)"
    click.echo(f"{verb}: {info['program']} version {info['version']} {info['digest']}")
    if "activation" in info:
        click.echo(f"activated from {info['activation']['effective_from']}")


@click.command()
@click.argument("program")
@click.argument("version", type=int)
@click.option("--at", "at", default=None, help="ISO instant with offset (default: now)")
@click.option("--declared", is_flag=True, help="at the version's own effective_from")
@click.option("--author", default=None)
@database_option
def activate(program: str, version: int, at: str | None, declared: bool, author: str | None,
             database_url: str) -> None:
    """Make VERSION of PROGRAM live (now, --at, or --declared); older = rollback.

    \b
    Example:
      loyalty activate retail 2 --at 2027-01-01T00:00:00-05:00
      loyalty activate retail 1                # roll back to version 1, now
    """
    import store.registry.rulesets as rulesets

    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at: not an ISO 8601 instant: {at!r}")
        if when.tzinfo is None:
            fail("--at needs a UTC offset, e.g. 2027-01-01T00:00:00-05:00")
    act = _store_call(rulesets.activate, open_db(database_url), program, version, _author(author),
                      when, declared)
    click.echo(f"{program} version {version} live from {act['effective_from']}")


def _load(database_url: str, ref: str) -> Any:
    """A ruleset path, or PROGRAM@VERSION from the registry."""
    if Path(ref).exists() or "@" not in ref:
        return load_program_or_exit(ref)
    from store.registry.programs import ProgramCache

    name, _, version = ref.rpartition("@")
    if not version.isdigit():
        fail(f"{ref!r}: expected a path or PROGRAM@VERSION")
    with open_db(database_url).reading() as session:
        return _store_call(ProgramCache().get, session, name, int(version))


@click.command()
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@database_option
def diff(old: str, new: str, fmt: str, database_url: str) -> None:
    """Semantic diff, by rule id, between two rulesets: paths or PROGRAM@VERSION.

    \b
    Example:
      loyalty diff rulesets/retail rulesets/card-rewards
      loyalty diff retail@1 rulesets/retail --format json   # the registry's v1 vs a folder
    """
    from engine.language.diff import diff as semantic_diff

    result = semantic_diff(_load(database_url, old), _load(database_url, new))
    click.echo(json.dumps(result.to_json(), indent=2) if fmt == "json" else result.to_text(),
               nl=fmt == "json")


@click.group("rulesets")
def rulesets_group() -> None:
    """Inspect the registry.

    \b
    Example:
      loyalty rulesets list
      loyalty rulesets show retail 1 --sources
    """


@rulesets_group.command("list")
@click.option("--program", default=None)
@click.option("--json", "as_json", is_flag=True)
@database_option
def list_cmd(program: str | None, as_json: bool, database_url: str) -> None:
    """Programs, versions and which one is live.

    \b
    Example:
      loyalty rulesets list --program retail --json
    """
    import store.registry.rulesets as rulesets
    from store.registry.programs import ProgramCache

    data = _store_call(rulesets.listing, open_db(database_url), ProgramCache(), program)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for prog in data["programs"]:
        click.echo(f"{prog['program']}  live: {prog['live_version']}")
        for v in prog["versions"]:
            click.echo(f"  {v['version']:>4}  {v['digest'][:19]}  {v['created_at'][:19]}  "
                       f"{v['author']}  {v['message']}")


@rulesets_group.command("show")
@click.argument("program")
@click.argument("version", type=int)
@click.option("--sources", is_flag=True, help="print the YAML files too")
@database_option
def show_cmd(program: str, version: int, sources: bool, database_url: str) -> None:
    """One version: digest, author, message, activations (and sources).

    \b
    Example:
      loyalty rulesets show retail 1 --sources
    """
    import store.registry.rulesets as rulesets

    data = _store_call(rulesets.show, open_db(database_url), program, version)
    files = data.pop("sources")
    click.echo(json.dumps(data, indent=2))
    if sources:
        for name, text in files.items():
            click.echo(f"--- {name}\n{text}")
