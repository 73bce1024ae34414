"""`loyalty b2b-orders`: the operators' side of companies' orders — the item queue,
acknowledge, ship, deliver, show and cancel — on the store, with the same checks and
JSON as the HTTP API (`/v1/programs/{program}/b2b-orders…`)."""

from __future__ import annotations

import click

from cli.db_cmd import database_option
from cli.output import cli_actor
from cli.redeem_cmd import _run


@click.group("b2b-orders")
def b2b_orders_group() -> None:
    """Companies' orders: work the manual queue, show and cancel (exit 5 when refused).

    \b
    Example:
      loyalty b2b-orders queue b2b-portal
      loyalty b2b-orders acknowledge b2b-portal B2B-2026-000123 1
      loyalty b2b-orders ship b2b-portal B2B-2026-000123 1 --carrier DHL --tracking JD0146
      loyalty b2b-orders deliver b2b-portal B2B-2026-000123 1
      loyalty b2b-orders show b2b-portal B2B-2026-000123
      loyalty b2b-orders cancel b2b-portal B2B-2026-000123 --line 2 --reason "out of range"
    """


@b2b_orders_group.command("queue")
@click.argument("program")
@click.option("--status", default="queued", show_default=True,
              type=click.Choice(["queued", "acknowledged", "shipped", "pending", "sending",
                                 "sent", "delivered", "failed", "cancelled"]))
@click.option("--route", default="manual", show_default=True,
              type=click.Choice(["manual", "webhook"]))
@click.option("--cursor", type=click.IntRange(1), help="the next_cursor of the last page")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@database_option
def queue(program: str, status: str, route: str, cursor: int | None, limit: int,
          database_url: str) -> None:
    """Order items in STATUS on ROUTE, oldest first.

    \b
    Example:
      loyalty b2b-orders queue b2b-portal --status acknowledged
    """
    import store.b2b_orders.items as items

    _run(database_url, lambda db, _: items.queue(db, program, status, route, cursor, limit))


def _step(database_url: str, program: str, number: str, line: int, target: str,
          **detail: str | None) -> None:
    import store.b2b_orders.items as items

    _run(database_url, lambda db, _: items.advance(db, program, number, line, target,
                                                   cli_actor(), **detail)[0])


@b2b_orders_group.command("acknowledge")
@click.argument("program")
@click.argument("order_number")
@click.argument("line", type=click.IntRange(1, 10_000))
@click.option("--note")
@database_option
def acknowledge(program: str, order_number: str, line: int, note: str | None,
                database_url: str) -> None:
    """A manual item of ORDER_NUMBER is being prepared (idempotent).

    \b
    Example:
      loyalty b2b-orders acknowledge b2b-portal B2B-2026-000123 1
    """
    _step(database_url, program, order_number, line, "acknowledged", note=note)


@b2b_orders_group.command("ship")
@click.argument("program")
@click.argument("order_number")
@click.argument("line", type=click.IntRange(1, 10_000))
@click.option("--carrier", required=True)
@click.option("--tracking", required=True, help="the carrier's tracking number")
@click.option("--note")
@database_option
def ship(program: str, order_number: str, line: int, carrier: str, tracking: str,
         note: str | None, database_url: str) -> None:
    """A manual item left with a carrier: its reserved stock leaves the inventory.

    \b
    Example:
      loyalty b2b-orders ship b2b-portal B2B-2026-000123 1 --carrier DHL --tracking JD0146
    """
    _step(database_url, program, order_number, line, "shipped", carrier=carrier,
          tracking=tracking, note=note)


@b2b_orders_group.command("deliver")
@click.argument("program")
@click.argument("order_number")
@click.argument("line", type=click.IntRange(1, 10_000))
@click.option("--note")
@database_option
def deliver(program: str, order_number: str, line: int, note: str | None,
            database_url: str) -> None:
    """An item reached the company; the order's status follows.

    \b
    Example:
      loyalty b2b-orders deliver b2b-portal B2B-2026-000123 1
    """
    _step(database_url, program, order_number, line, "delivered", note=note)


@b2b_orders_group.command("retry")
@click.argument("program")
@click.argument("order_number")
@click.argument("line", type=click.IntRange(1, 10_000))
@database_option
def retry(program: str, order_number: str, line: int, database_url: str) -> None:
    """Send a failed virtual item to the fulfilment API again (by the next `b2b_orders`
    job run).

    \b
    Example:
      loyalty b2b-orders retry b2b-portal B2B-2026-000123 2
    """
    _step(database_url, program, order_number, line, "pending")


@b2b_orders_group.command("show")
@click.argument("program")
@click.argument("order_number")
@database_option
def show(program: str, order_number: str, database_url: str) -> None:
    """An order with its items and who did each step.

    \b
    Example:
      loyalty b2b-orders show b2b-portal B2B-2026-000123
    """
    import store.b2b_orders.model as orders

    def work(db, _):  # type: ignore[no-untyped-def]
        with db.reading() as session:
            return orders.view(session, orders.find(session, program, None, order_number))

    _run(database_url, work)


@b2b_orders_group.command("cancel")
@click.argument("program")
@click.argument("order_number")
@click.option("--line", "lines", type=click.IntRange(1, 10_000), multiple=True,
              help="a line to cancel (repeatable; default: every item not yet shipped)")
@click.option("--reason")
@database_option
def cancel(program: str, order_number: str, lines: tuple[int, ...], reason: str | None,
           database_url: str) -> None:
    """Cancel an order or its items not yet shipped: points owed back, stock returned.

    \b
    Example:
      loyalty b2b-orders cancel b2b-portal B2B-2026-000123 --line 2 --reason "out of range"
    """
    import store.b2b_orders.cancel as cancelling

    _run(database_url, lambda db, _: cancelling.cancel(db, program, None, order_number,
                                                       list(lines) or None, cli_actor(),
                                                       reason))
