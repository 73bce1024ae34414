"""`loyalty inventory`: reward stock apart from ruleset versions — list, restock,
adjust, the low-stock threshold and the audit trail — on the store, with the same
checks and JSON as the HTTP API (`/v1/programs/{program}/inventory…`)."""

from __future__ import annotations

from typing import Any

import click

from cli.db_cmd import database_option
from cli.output import cli_actor
from cli.redeem_cmd import _run

MOST = 10**9


def _live(db: Any, cache: Any, program: str) -> Any:
    import store.clock as clock

    with db.reading() as session:
        return cache.resolve(session, program, clock.now())


@click.group("inventory")
def inventory_group() -> None:
    """Reward stock per program: available and reserved units, restock, adjust, the
    low-stock threshold, every change audited (exit 5 when refused).

    \b
    Example:
      loyalty inventory list b2b-portal
      loyalty inventory restock b2b-portal PHYS-LAPTOP-BAG 100 --reason "delivery 42"
      loyalty inventory adjust b2b-portal PHYS-LAPTOP-BAG --by -2 --reason breakage
      loyalty inventory low-stock b2b-portal PHYS-LAPTOP-BAG 20
      loyalty inventory changes b2b-portal --reward PHYS-LAPTOP-BAG
    """


@inventory_group.command("list")
@click.argument("program")
@database_option
def list_stock(program: str, database_url: str) -> None:
    """Every catalog reward of the live version with its stock.

    \b
    Example:
      loyalty inventory list b2b-portal
    """
    import store.inventory.stock as inventory

    _run(database_url, lambda db, cache: inventory.listing(db, _live(db, cache, program)))


@inventory_group.command("restock")
@click.argument("program")
@click.argument("reward_id")
@click.argument("quantity", type=click.IntRange(1, MOST))
@click.option("--reason", help="recorded with the change")
@database_option
def restock(program: str, reward_id: str, quantity: int, reason: str | None,
            database_url: str) -> None:
    """Add QUANTITY units of REWARD_ID (a delivery came in).

    \b
    Example:
      loyalty inventory restock b2b-portal PHYS-LAPTOP-BAG 100 --reason "delivery 42"
    """
    import store.inventory.stock as inventory

    _run(database_url, lambda db, cache: inventory.restock(
        db, _live(db, cache, program), reward_id, quantity, cli_actor(), reason))


@inventory_group.command("adjust")
@click.argument("program")
@click.argument("reward_id")
@click.option("--by", "delta", type=click.IntRange(-MOST, MOST), required=True,
              help="units to add (positive) or remove (negative)")
@click.option("--reason", required=True, help="why (a count, breakage); recorded")
@database_option
def adjust(program: str, reward_id: str, delta: int, reason: str, database_url: str) -> None:
    """Correct the available units of REWARD_ID (never below zero).

    \b
    Example:
      loyalty inventory adjust b2b-portal PHYS-LAPTOP-BAG --by -2 --reason breakage
    """
    import store.inventory.stock as inventory

    _run(database_url, lambda db, cache: inventory.adjust(
        db, _live(db, cache, program), reward_id, delta, cli_actor(), reason))


@inventory_group.command("low-stock")
@click.argument("program")
@click.argument("reward_id")
@click.argument("threshold", type=click.IntRange(0, MOST), required=False)
@database_option
def low_stock(program: str, reward_id: str, threshold: int | None, database_url: str) -> None:
    """Record a `inventory.low_stock` audit entry when the available units of REWARD_ID
    fall to THRESHOLD or below (no THRESHOLD: never).

    \b
    Example:
      loyalty inventory low-stock b2b-portal PHYS-LAPTOP-BAG 20
    """
    import store.inventory.stock as inventory

    _run(database_url, lambda db, cache: inventory.set_low_stock(
        db, _live(db, cache, program), reward_id, threshold, cli_actor()))


@inventory_group.command("changes")
@click.argument("program")
@click.option("--reward", "reward_id", help="only this reward's changes")
@click.option("--cursor", type=click.IntRange(1), help="the next_cursor of the last page")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@database_option
def changes(program: str, reward_id: str | None, cursor: int | None, limit: int,
            database_url: str) -> None:
    """Stock changes, newest first: who, why, the quantities after each.

    \b
    Example:
      loyalty inventory changes b2b-portal --reward PHYS-LAPTOP-BAG
    """
    import store.inventory.stock as inventory

    _run(database_url, lambda db, _: inventory.changes(db, program, reward_id, cursor, limit))
