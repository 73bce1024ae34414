"""`loyalty shadow start|stop|report`: a published version evaluated beside the live one
on live traffic, and its report in the format of `simulate --compare`.

Like the registry commands, they talk to the running service (`--url` / `LOYALTY_URL`,
key in `LOYALTY_KEY`), or with `--database-url` work on that database directly (the
service's workers then see a start or a stop within `LOYALTY_SHADOW_CHECK_SECONDS`).
"""

from __future__ import annotations

from typing import Any

import click

from cli.db_cmd import open_db
from cli.registry_cmd import VERSION, author_of, author_option, store_call
from cli.service import Service, segment, target, target_options
from cli.simulate_cmd import emit_report

RUN = click.IntRange(1, 2**62)


@click.group("shadow")
def shadow_group() -> None:
    """Evaluate a published version in shadow on live traffic, and compare.

    While a version is in shadow, every live quote and commit of its program is also
    evaluated against it, after the answer is sent; nothing of it reaches the ledger.

    \b
    Example:
      loyalty shadow start retail 2
      loyalty shadow report retail                 # live version against version 2
      loyalty shadow stop retail
    """


def _run_line(run: dict[str, Any]) -> str:
    state = ("in shadow since " + run["started_at"] if run["active"]
             else f"shadow run stopped at {run['stopped_at']}")
    return f"{run['program']} version {run['version']} {state} (run {run['id']})"


@shadow_group.command("start")
@click.argument("program")
@click.argument("version", type=VERSION)
@author_option
@target_options
def start_cmd(program: str, version: int, author: str | None, url: str | None,
              database_url: str | None) -> None:
    """Put published VERSION of PROGRAM in shadow (replacing the one in shadow).

    \b
    Example:
      loyalty shadow start retail 2
    """
    t = target(url, database_url)
    who = author_of(t, author)
    if t.direct:
        import store.shadow.runs as runs

        out = store_call(runs.start, open_db(t.database_url or ""), program, version,
                         who).to_json()
    else:
        assert t.url is not None
        out = Service(t.url).call("PUT", f"/v1/programs/{segment(program)}/shadow",
                                  {"version": version})
    click.echo(_run_line(out))


@shadow_group.command("stop")
@click.argument("program")
@author_option
@target_options
def stop_cmd(program: str, author: str | None, url: str | None,
             database_url: str | None) -> None:
    """Take PROGRAM's version out of shadow (its report stays readable).

    \b
    Example:
      loyalty shadow stop retail
    """
    t = target(url, database_url)
    who = author_of(t, author)
    if t.direct:
        import store.shadow.runs as runs

        out = store_call(runs.stop, open_db(t.database_url or ""), program, who).to_json()
    else:
        assert t.url is not None
        out = Service(t.url).call("DELETE", f"/v1/programs/{segment(program)}/shadow")
    click.echo(_run_line(out))


def shadow_text(block: dict[str, Any]) -> str:
    """The shadow run's own figures, after the tables of `simulate --compare`."""
    diff = block["differences"]
    lines = [_run_line(block["run"]),
             (f"requests: {block['requests']['quote']} quotes, {block['requests']['commit']} "
              f"commits; evaluated {block['evaluated']}, failed {block['failed']}, "
              f"dropped {block['dropped']}"),
             (f"differences: points {diff['points']}, tier {diff['tier']}, redemption "
              f"{diff['redemption']}; members whose tier would differ: "
              f"{block['members_tier_differs']}")]
    for kind, samples in block["samples"].items():
        if samples:
            lines.append(f"sample of {kind}: " + ", ".join(
                f"{s['operation']} of {s['member_id']}" for s in samples[:5])
                + (f" and {len(samples) - 5} more" if len(samples) > 5 else ""))
    return "\n".join(lines)


@shadow_group.command("report")
@click.argument("program")
@click.option("--run", "run_id", type=RUN, default=None,
              help="a run of the program (default: its latest)")
@click.option("--output", "-o", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True, help="What to print on stdout.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write the HTML report to this file.")
@target_options
def report_cmd(program: str, run_id: int | None, output: str, report_path: str | None,
               url: str | None, database_url: str | None) -> None:
    """Report a shadow run: the live version against the version in shadow.

    The format of `loyalty simulate --compare`, over the live traffic: points by rule,
    campaigns, tiers, redemption decisions, the members that changed most; then the
    run's requests, failures, drops, differences by kind and their samples (JSON: with
    both versions' answers and traces).

    \b
    Example:
      loyalty shadow report retail
      loyalty shadow report retail -o json > shadow.json
      loyalty shadow report retail --run 3 --report shadow.html
    """

    t = target(url, database_url)
    if t.direct:
        import store.shadow.report as shadow_report
        from store.registry.programs import ProgramCache

        doc = store_call(shadow_report.report, open_db(t.database_url or ""), ProgramCache(),
                         program, run_id)
    else:
        assert t.url is not None
        doc = Service(t.url).call("GET", f"/v1/programs/{segment(program)}/shadow/report",
                                  params={"run": run_id})
    title = (f"Shadow evaluation of {program} version {doc['shadow']['run']['version']} "
             "on live traffic")
    emit_report(doc, output, report_path, title)
    if output == "text":
        click.echo(shadow_text(doc["shadow"]))
