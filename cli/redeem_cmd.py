"""`loyalty redemptions`: redeem, cancel and look up redemptions in the store from the
command line — the same operations, checks and JSON as the HTTP API
(`POST /v1/programs/{program}/redemptions`, `…/{id}/cancel`, `GET …/{id}`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from cli.db_cmd import database_option, open_db
from cli.output import fail

EXIT_REFUSED = 5


@click.group("redemptions")
def redemptions_group() -> None:
    """Redeem points or catalog rewards for a member, cancel, show (exit 5 when refused).

    \b
    Example:
      loyalty redemptions create retail CUST-curl --reward REWARD-002
      loyalty redemptions show retail 1
      loyalty redemptions cancel retail 1 --reason "changed mind"
    """


def _run(database_url: str, work: Callable[[Any, Any], Any]) -> None:
    from store.errors import StoreError
    from store.registry.programs import ProgramCache

    database = open_db(database_url)
    try:
        outcome = work(database, ProgramCache())
    except StoreError as exc:
        click.echo(json.dumps({"code": exc.code, "message": exc.message, "status": exc.status,
                               **({"errors": exc.errors} if exc.errors else {})}))
        fail(f"{exc.code}: {exc.message}", code=EXIT_REFUSED)
    finally:
        database.dispose()
    click.echo(json.dumps(getattr(outcome, "result", outcome), indent=2))


def _instant(value: str | None, database_url: str) -> str | None:
    """`--as-of` under the API's bounds on the instant of a write: written as the input
    contract says (a UTC offset, years 1900-2999), and at most
    LOYALTY_MAX_FUTURE_SKEW_SECONDS ahead of the server clock. None: the store takes now."""
    import engine.evaluation.contract as contract
    import store.clock as clock
    from store.settings import Settings

    if value is None:
        return None
    try:
        at = contract.instant(value)
    except contract.Invalid as exc:
        fail(f"--as-of: {exc}")
    skew = Settings(database_url=database_url).max_future_skew_seconds
    if at > clock.latest_allowed(skew):
        fail(f"--as-of: instant_in_future: {value} is ahead of the server clock by more than "
             f"{skew:g} s (LOYALTY_MAX_FUTURE_SKEW_SECONDS)")
    return value


@redemptions_group.command("create")
@click.argument("program")
@click.argument("member_id")
@click.option("--points", type=click.IntRange(1, 10**12), help="pay with points")
@click.option("--reward", "reward_id", help="a catalog reward instead of points")
@click.option("--quantity", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--order-id", help="make it a checkout hold until this order commits")
@click.option("--order-total", help="order total, for max_order_fraction and min_order")
@click.option("--hold-minutes", type=click.IntRange(1, 7 * 24 * 60), help="hold lifetime")
@click.option("--as-of", "as_of", help="instant of the redemption (ISO 8601; default: now)")
@click.option("--idempotency-key", help="a retry with the same key returns the first result")
@database_option
def create(program: str, member_id: str, points: int | None, reward_id: str | None,
           quantity: int, order_id: str | None, order_total: str | None,
           hold_minutes: int | None, as_of: str | None, idempotency_key: str | None,
           database_url: str) -> None:
    """Redeem for MEMBER_ID of PROGRAM and print the redemption as JSON.

    \b
    Example:
      loyalty redemptions create retail CUST-curl --reward REWARD-002
      loyalty redemptions create retail CUST-curl --points 500 --order-id O-77 \\
          --order-total 120.00                 # a checkout hold until order O-77 commits
    """
    import store.redemptions.redeem as redemptions

    if (points is None) == (reward_id is None):
        fail("give either --points or --reward")
    request = {k: v for k, v in {
        "member_id": member_id, "points": points, "reward_id": reward_id,
        "quantity": quantity if reward_id else None, "order_id": order_id,
        "order_total": order_total, "hold_minutes": hold_minutes,
        "as_of": _instant(as_of, database_url), "idempotency_key": idempotency_key}.items()
        if v is not None}
    _run(database_url, lambda db, cache: redemptions.redeem(db, cache, program, request))


@redemptions_group.command("cancel")
@click.argument("program")
@click.argument("redemption_id")
@click.option("--reason", help="recorded in the redemption's history")
@database_option
def cancel(program: str, redemption_id: str, reason: str | None, database_url: str) -> None:
    """Cancel a redemption or release a hold: points and stock back.

    \b
    Example:
      loyalty redemptions cancel retail 1 --reason "changed mind"
    """
    import store.redemptions.redeem as redemptions

    body = {"reason": reason} if reason else {}
    _run(database_url, lambda db, cache: redemptions.cancel(db, cache, program, redemption_id,
                                                                body))


@redemptions_group.command("show")
@click.argument("program")
@click.argument("redemption_id")
@database_option
def show(program: str, redemption_id: str, database_url: str) -> None:
    """A redemption with its lots, account and status history.

    \b
    Example:
      loyalty redemptions show retail 1
    """
    import store.redemptions.redeem as redemptions

    _run(database_url, lambda db, _: redemptions.get(db, program, redemption_id))
