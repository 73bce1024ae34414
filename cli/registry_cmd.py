"""Registry commands: publish, approve, activate, diff, rulesets list/show.

They talk to the running service (`--url` / `LOYALTY_URL`, key in `LOYALTY_KEY`), whose
scopes apply; with `--database-url` they use the store's functions on that database
directly (it must exist: nothing is created or migrated here).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from cli.db_cmd import open_db
from cli.output import EXIT_INVALID_RULESET, cli_actor, dump_json, fail, load_program_or_exit
from cli.service import Service, Target, segment, target, target_options


def author_of(t: Target, author: str | None) -> str:
    """Who acts: over the service, the key (`--author` is refused); on a database, `--author`
    or cli:$USER."""
    if not t.direct:
        if author:
            fail("--author applies with --database-url only; over the service the key is the "
                 "author")
        return ""
    return author or cli_actor()


def store_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from store.errors import StoreError

    try:
        return fn(*args, **kwargs)
    except StoreError as exc:
        fail(f"{exc.code}: {exc.message}")


# A version number as the registry stores it: 1 to engine.evaluation.contract.VERSION_LIMIT
# (written out here: the engine is imported only by the commands that need it).
VERSION_LIMIT = 2**31 - 1
VERSION = click.IntRange(1, VERSION_LIMIT)


def parse_instant(at: str | None, option: str = "--at") -> datetime | None:
    """An instant as the service reads one (with a UTC offset, years 1900-2999)."""
    if not at:
        return None
    from engine.evaluation.contract import instant

    try:
        return instant(at)
    except ValueError as exc:
        fail(f"{option}: {exc}")


author_option = click.option("--author", default=None,
                             help="with --database-url: who acts (default: cli:$USER)")


@click.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("-m", "--message", default="", help="why this version exists")
@author_option
@click.option("--activate", type=click.Choice(["no", "now", "effective_from"]), default="no",
              show_default=True, help="activate right after publishing (subject to approvals)")
@target_options
def publish(path: str, message: str, author: str | None, activate: str, url: str | None,
            database_url: str | None) -> None:
    """Validate the ruleset at PATH and store it as a new immutable version.

    \b
    Example:
      export LOYALTY_KEY=lrk_...            # an admin key of the service
      loyalty publish rulesets/retail -m "electronics x3"
      loyalty publish rulesets/retail --database-url sqlite:///./loyalty.db
    """
    from engine.verify import check as check_invariants
    from store.registry.versions import source_names

    t = target(url, database_url)
    who = author_of(t, author)
    program = load_program_or_exit(path)  # exit 3 with located errors when invalid
    refused = check_invariants(program)  # the store refuses them too
    if refused:
        for error in refused:
            click.echo(str(error), err=True)
        fail(f"{path}: {len(refused)} invariant(s) fail; run `loyalty verify {path}` for "
             "the worst cases and their witnesses", EXIT_INVALID_RULESET)
    sources = source_names(dict(program.sources))
    if t.direct:
        import store.registry.rulesets as rulesets

        info, _ = store_call(rulesets.publish, open_db(t.database_url or ""), sources,
                             who, message, activate)
    else:
        assert t.url is not None
        info = Service(t.url).call("POST", "/v1/rulesets", {
            "sources": sources, "message": message, "activate": activate})
    verb = "published" if info["created"] else "already published (identical content)"
    click.echo(f"{verb}: {info['program']} version {info['version']} {info['digest']}")
    for warning in info.get("warnings") or []:
        click.echo(warning_text(warning), err=True)
    if "activation" in info:
        act = info["activation"]
        click.echo(f"already live from {act['effective_from']}" if act.get("already_live")
                   else f"activated from {act['effective_from']}")


def warning_text(warning: dict[str, Any]) -> str:
    """A warning of the publish answer as `loyalty validate` prints one:
    `file:line:col: $.path: warning[code]: message (hint: …)` where it is located."""
    from engine.errors import RulesetWarning

    if all(warning.get(k) is not None for k in ("file", "line", "col", "path")):
        return str(RulesetWarning(warning["file"], warning["line"], warning["col"],
                                  warning["path"], warning["message"], warning.get("hint"),
                                  code=warning["code"]))
    return f"warning[{warning['code']}]: {warning['message']}"


@click.command()
@click.argument("program")
@click.argument("version", type=VERSION)
@click.option("-m", "--message", default="", help="why you approve it (kept in the audit log)")
@author_option
@target_options
def approve(program: str, version: int, message: str, author: str | None, url: str | None,
            database_url: str | None) -> None:
    """Approve VERSION of PROGRAM (four eyes: not with the key that published it).

    A program declaring `approvals: {required: N}` needs N approvals by different keys,
    none the publisher's, before a version can be activated.

    \b
    Example:
      LOYALTY_KEY=$REVIEWER_KEY loyalty approve retail 2 -m "checked the diff"
    """
    t = target(url, database_url)
    who = author_of(t, author)
    if t.direct:
        import store.registry.rulesets as rulesets

        out = store_call(rulesets.approve, open_db(t.database_url or ""), program, version,
                         who, message)
    else:
        assert t.url is not None
        out = Service(t.url).call("POST", f"/v1/rulesets/{segment(program)}/{version}/approve",
                                  {"message": message})
    state = out["approvals"]
    click.echo(f"approved {program} version {version}: {approvals_text(state)}")


def approvals_text(state: dict[str, Any]) -> str:
    given = state["approved_by"]
    if not state["required"]:
        text = "no approvals required"
    else:
        text = f"{len(given)} of {state['required']} approval(s)"
        text += f", {state['missing']} missing" if state["missing"] else ", ready to activate"
    if given:
        text += " (by " + ", ".join(a["actor"] for a in given) + ")"
    return text


@click.command()
@click.argument("program")
@click.argument("version", type=VERSION)
@click.option("--at", "at", default=None, help="ISO instant with offset (default: now)")
@click.option("--declared", is_flag=True, help="at the version's own effective_from")
@click.option("--dry-run", is_flag=True,
              help="show the diff, instant, schedule, publisher and approvals; change nothing")
@click.option("--json", "as_json", is_flag=True, help="print the service's JSON answer")
@author_option
@target_options
def activate(program: str, version: int, at: str | None, declared: bool, dry_run: bool,
             as_json: bool, author: str | None, url: str | None,
             database_url: str | None) -> None:
    """Make VERSION of PROGRAM live (now, --at, or --declared); older = rollback.

    Refused while the version lacks the approvals its program requires.

    \b
    Example:
      loyalty activate retail 2 --dry-run      # what would change, and is it approved?
      loyalty activate retail 2 --at 2027-01-01T00:00:00-05:00
      loyalty activate retail 1                # rollback to version 1
    """
    t = target(url, database_url)
    who = author_of(t, author)
    when = parse_instant(at)
    if t.direct:
        import store.registry.rulesets as rulesets
        from store.registry.programs import ProgramCache

        out = store_call(rulesets.activate, open_db(t.database_url or ""), ProgramCache(),
                         program, version, who, when, declared, dry_run)
    else:
        assert t.url is not None
        body: dict[str, Any] = {"at": "effective_from" if declared else "now",
                                "dry_run": dry_run}
        if when is not None:
            body["effective_from"] = when.isoformat()
        out = Service(t.url).call("POST", f"/v1/rulesets/{segment(program)}/{version}/activate", body)
    if as_json:
        click.echo(dump_json(out))
    elif dry_run:
        click.echo(plan_text(out), nl=False)
    elif out.get("already_live"):
        click.echo(out["detail"])
    else:
        click.echo(f"{program} version {version} live from {out['effective_from']}")


def plan_text(plan: dict[str, Any]) -> str:
    from engine.language.diff import Diff

    name = f"{plan['program']} version {plan['version']}"
    lines = ["dry run: nothing was changed"]
    if plan["already_live"]:
        lines.append(plan["detail"])
    else:
        lines.append(f"{name} would be live from {plan['effective_from']} (replacing "
                     f"{_version(plan['replaces'])}; live now: {_version(plan['live_version'])})")
    pub = plan["published"]
    lines.append(f"published by {pub['author']} at {pub['at']}"
                 + (f": {pub['message']}" if pub["message"] else ""))
    lines.append(f"approvals: {approvals_text(plan['approvals'])}")
    for key, label in (("scheduled_before", "before"), ("scheduled_after", "after")):
        acts = plan[key]
        lines.append(f"scheduled {label} that instant: " + (", ".join(
            f"version {a['version']} from {a['effective_from']}" for a in acts) or "nothing"))
    if plan["diff"] is None:
        lines.append("no live version to compare with")
    else:
        lines.append("changes against the live version:")
        lines.append(Diff.from_json(plan["diff"]).to_text().rstrip("\n"))
    refusal = plan.get("refusal")
    if refusal:
        lines.append(f"would be refused: {refusal['code']}: {refusal['detail']}")
    return "\n".join(lines) + "\n"


def _version(version: int | None) -> str:
    return "none" if version is None else f"version {version}"


def _load(t: Target, ref: str) -> Any:
    """A ruleset path, or PROGRAM@VERSION from the registry."""
    if Path(ref).exists() or "@" not in ref:
        return load_program_or_exit(ref)
    name, _, version = ref.rpartition("@")
    if not version.isdigit() or not name or not 1 <= int(version) <= VERSION_LIMIT:
        fail(f"{ref!r}: expected a path or PROGRAM@VERSION (a version from 1 to "
             f"{VERSION_LIMIT})")
    if t.direct:
        import store.registry.rulesets as rulesets

        sources = store_call(rulesets.show, open_db(t.database_url or ""), name,
                             int(version))["sources"]
    else:
        assert t.url is not None
        sources = Service(t.url).call("GET", f"/v1/rulesets/{segment(name)}/{version}")["sources"]
    from engine import load_program

    return load_program(sources)


@click.command()
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@target_options
def diff(old: str, new: str, fmt: str, url: str | None, database_url: str | None) -> None:
    """Semantic diff, by rule id, between two rulesets: paths or PROGRAM@VERSION.

    \b
    Example:
      loyalty diff retail@1 retail@2                 # two published versions
      loyalty diff retail@2 rulesets/retail          # the published one against a folder
      loyalty diff rulesets/retail rulesets/card-rewards --format json   # two folders
    """
    from engine.language.diff import diff as semantic_diff

    t = target(url, database_url)
    result = semantic_diff(_load(t, old), _load(t, new))
    click.echo(json.dumps(result.to_json(), indent=2) if fmt == "json" else result.to_text(),
               nl=fmt == "json")


@click.group("rulesets")
def rulesets_group() -> None:
    """Inspect the registry (of the service, or of a database with --database-url).

    \b
    Example:
      loyalty rulesets list
      loyalty rulesets show retail 1
    """


@rulesets_group.command("list")
@click.option("--program", default=None)
@click.option("--json", "as_json", is_flag=True)
@target_options
def list_cmd(program: str | None, as_json: bool, url: str | None,
             database_url: str | None) -> None:
    """Programs, versions and which one is live.

    \b
    Example:
      loyalty rulesets list --program retail
    """
    t = target(url, database_url)
    if t.direct:
        import store.registry.rulesets as rulesets
        from store.registry.programs import ProgramCache

        data = store_call(rulesets.listing, open_db(t.database_url or ""), ProgramCache(), program)
    else:
        assert t.url is not None
        data = Service(t.url).call("GET", "/v1/rulesets", params={"program": program})
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for prog in data["programs"]:
        click.echo(f"{prog['program']}  live: {prog['live_version']}")
        for v in prog["versions"]:
            click.echo(f"  {v['version']:>4}  {v['digest'][:19]}  {v['created_at'][:19]}  "
                       f"{v['author']}  {v['message']}")
        for act in prog.get("scheduled") or []:
            click.echo(f"  scheduled: version {act['version']} from {act['effective_from']}")


@rulesets_group.command("show")
@click.argument("program")
@click.argument("version", type=VERSION)
@click.option("--sources", is_flag=True, help="print the YAML files too")
@target_options
def show_cmd(program: str, version: int, sources: bool, url: str | None,
             database_url: str | None) -> None:
    """One version: digest, author, message, activations, approvals (and sources).

    \b
    Example:
      loyalty rulesets show retail 2 --sources
    """
    t = target(url, database_url)
    if t.direct:
        import store.registry.rulesets as rulesets

        data = store_call(rulesets.show, open_db(t.database_url or ""), program, version)
    else:
        assert t.url is not None
        data = Service(t.url).call("GET", f"/v1/rulesets/{segment(program)}/{version}")
    files = data.pop("sources")
    click.echo(json.dumps(data, indent=2))
    if sources:
        for name, text in files.items():
            click.echo(f"--- {name}\n{text}")
