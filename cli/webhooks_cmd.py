"""`loyalty webhooks create|list|delete|deliveries|redeliver`: subscriptions of URLs to
the domain events, and their deliveries.

Like the registry commands, they talk to the running service (`--url` / `LOYALTY_URL`,
an admin key in `LOYALTY_KEY`), or with `--database-url` work on that database directly.
"""

from __future__ import annotations

import json
from typing import Any

import click

from cli.db_cmd import open_db
from cli.output import fail
from cli.registry_cmd import author_of, author_option, store_call
from cli.service import Service, target, target_options

ROW = click.IntRange(1, 10**18 - 1)
STATUSES = click.Choice(["pending", "sending", "delivered", "dead"])


@click.group("webhooks")
def webhooks_group() -> None:
    """Deliver domain events to URLs, signed per Standard Webhooks.

    \b
    Example:
      loyalty webhooks create https://crm.example.com/loyalty --event tier.changed
      loyalty webhooks deliveries 1 --status dead
      loyalty webhooks redeliver 1 42
    """


def _line(hook: dict[str, Any]) -> str:
    types = ", ".join(hook["event_types"]) or "every type"
    return (f"{hook['id']}  {hook['url']}  {types}  program {hook['program'] or 'any'}  "
            f"max {hook['max_attempts']} attempts")


@webhooks_group.command("create")
@click.argument("endpoint", metavar="URL")
@click.option("--event", "events", multiple=True, metavar="TYPE",
              help="an event type to deliver (repeatable; default: every type)")
@click.option("--program", default=None, help="only this program's events (default: all)")
@click.option("--secret", default=None, help="the signing secret, whsec_… (default: generated)")
@click.option("--description", default="", help="what the subscription is for")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=8, show_default=True,
              help="attempts before a delivery is dead-lettered")
@author_option
@target_options
def create_cmd(endpoint: str, events: tuple[str, ...], program: str | None,
               secret: str | None, description: str, max_attempts: int, author: str | None,
               url: str | None, database_url: str | None) -> None:
    """Subscribe URL to the domain events committed from now on; prints the subscription
    and, on its last line, the signing secret (shown this once).

    \b
    Example:
      loyalty webhooks create https://crm.example.com/loyalty --event tier.changed \\
          --event points.expired --program retail
    """
    t = target(url, database_url)
    who = author_of(t, author)
    if not endpoint.startswith(("http://", "https://")):
        fail(f"URL {endpoint!r}: an http or https URL")
    if t.direct:
        import store.events.webhooks as webhooks

        new = webhooks.NewSubscription(url=endpoint, event_types=events, program=program,
                                       secret=secret, description=description,
                                       max_attempts=max_attempts)
        made = store_call(webhooks.create, open_db(t.database_url or ""), new, who)
    else:
        assert t.url is not None
        made = Service(t.url).call("POST", "/v1/webhooks", json={
            "url": endpoint, "event_types": list(events), "program": program,
            "secret": secret, "description": description, "max_attempts": max_attempts})
    click.echo(_line(made))
    click.echo(made["secret"])


@webhooks_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="the subscriptions as JSON")
@target_options
def list_cmd(as_json: bool, url: str | None, database_url: str | None) -> None:
    """The webhook subscriptions (their secrets are never shown again).

    \b
    Example:
      loyalty webhooks list --json
    """
    t = target(url, database_url)
    if t.direct:
        import store.events.webhooks as webhooks

        answer = webhooks.listing(open_db(t.database_url or ""))
    else:
        assert t.url is not None
        answer = Service(t.url).call("GET", "/v1/webhooks")
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    for hook in answer["webhooks"]:
        click.echo(_line(hook))
    if not answer["webhooks"]:
        click.echo("no webhook subscriptions")


@webhooks_group.command("delete")
@click.argument("webhook_id", type=ROW)
@target_options
def delete_cmd(webhook_id: int, url: str | None, database_url: str | None) -> None:
    """Stop delivering to subscription WEBHOOK_ID (its deliveries stay listed).

    \b
    Example:
      loyalty webhooks delete 1
    """
    t = target(url, database_url)
    if t.direct:
        import store.events.webhooks as webhooks

        gone = store_call(webhooks.delete, open_db(t.database_url or ""), str(webhook_id))
    else:
        assert t.url is not None
        gone = Service(t.url).call("DELETE", f"/v1/webhooks/{webhook_id}")
    click.echo(f"webhook {gone['id']} deleted at {gone['deleted_at']}")


@webhooks_group.command("deliveries")
@click.argument("webhook_id", type=ROW)
@click.option("--status", type=STATUSES, default=None, help="only deliveries in this status")
@click.option("--cursor", type=ROW, default=None, help="the next page: the cursor printed last")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="the page as JSON, with next_cursor")
@target_options
def deliveries_cmd(webhook_id: int, status: str | None, cursor: int | None, limit: int,
                   as_json: bool, url: str | None, database_url: str | None) -> None:
    """The deliveries of subscription WEBHOOK_ID, oldest first.

    \b
    Example:
      loyalty webhooks deliveries 1 --status dead
    """
    t = target(url, database_url)
    if t.direct:
        import store.events.webhooks as webhooks

        page = store_call(webhooks.deliveries, open_db(t.database_url or ""), str(webhook_id),
                          status, cursor, limit)
    else:
        assert t.url is not None
        page = Service(t.url).call("GET", f"/v1/webhooks/{webhook_id}/deliveries", params={
            "status": status, "cursor": cursor, "limit": limit})
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    for d in page["deliveries"]:
        error = f"  {d['last_error']}" if d["last_error"] else ""
        click.echo(f"{d['id']}  {d['status']:<9}  {d['attempts']} attempt(s)  "
                   f"{d['event_type']:<20}  {d['member_id']}  {d['event_id']}{error}")
    if not page["deliveries"]:
        click.echo("no deliveries")
    if page["next_cursor"]:
        click.echo(f"next page: --cursor {page['next_cursor']}")


@webhooks_group.command("redeliver")
@click.argument("webhook_id", type=ROW)
@click.argument("delivery_id", type=ROW)
@target_options
def redeliver_cmd(webhook_id: int, delivery_id: int, url: str | None,
                  database_url: str | None) -> None:
    """Send delivery DELIVERY_ID of subscription WEBHOOK_ID again at the next run of the
    `webhooks` job (a dead-lettered one, or one delivered).

    \b
    Example:
      loyalty webhooks redeliver 1 42
    """
    t = target(url, database_url)
    if t.direct:
        import store.events.webhooks as webhooks

        again = store_call(webhooks.redeliver, open_db(t.database_url or ""), str(webhook_id),
                           str(delivery_id))
    else:
        assert t.url is not None
        again = Service(t.url).call(
            "POST", f"/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
    click.echo(f"delivery {again['id']} of event {again['event_id']} is {again['status']}")
