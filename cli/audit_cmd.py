"""`loyalty audit`: who published, approved, activated or rolled back what, and key changes."""

from __future__ import annotations

import json

import click

from cli.db_cmd import open_db
from cli.output import fail
from cli.registry_cmd import parse_instant
from cli.service import Service, target, target_options


@click.command()
@click.option("--program", default=None, help="only this program's entries")
@click.option("--actor", default=None, help="only this actor's, e.g. key:lrk_AbC123")
@click.option("--action", default=None, help="e.g. ruleset.publish, ruleset.approve, "
              "ruleset.activate, ruleset.rollback, shadow.start, shadow.stop, "
              "key.create, key.revoke")
@click.option("--from", "since", default=None, help="entries at or after this ISO instant")
@click.option("--to", "until", default=None, help="entries before this ISO instant")
@click.option("--cursor", default=None, help="the next page: the cursor the previous one printed")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="the page as JSON, with next_cursor")
@target_options
def audit(program: str | None, actor: str | None, action: str | None, since: str | None,
          until: str | None, cursor: str | None, limit: int, as_json: bool, url: str | None,
          database_url: str | None) -> None:
    """The audit log, newest first (an admin key over the service).

    \b
    Example:
      loyalty audit --program retail --action ruleset.activate
      loyalty audit --actor key:lrk_AbC123 --from 2027-01-01T00:00:00Z --json
    """
    t = target(url, database_url)
    start, end = parse_instant(since, "--from"), parse_instant(until, "--to")
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        fail(f"--cursor: {cursor!r} is not a cursor; pass the number the previous page printed")
    if t.direct:
        import store.registry.audit as store_audit

        where = store_audit.AuditFilter(program, actor, action, start, end)
        page = store_audit.read(open_db(t.database_url or ""), where,
                                int(cursor) if cursor else None, limit)
    else:
        assert t.url is not None
        page = Service(t.url).call("GET", "/v1/audit", params={
            "program": program, "actor": actor, "action": action, "cursor": cursor,
            "limit": limit, "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None})
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    for entry in page["entries"]:
        detail = ", ".join(f"{k}={v}" for k, v in entry["detail"].items() if v not in (None, ""))
        click.echo(f"{entry['at'][:19]}  {entry['actor']:<20}  {entry['action']:<17}  "
                   f"{entry['program'] or '-':<12}  {detail}")
    if not page["entries"]:
        click.echo("no audit entries match")
    if page["next_cursor"]:
        click.echo(f"more: --cursor {page['next_cursor']}")
