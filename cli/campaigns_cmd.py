"""`loyalty campaigns` and `loyalty codes`: campaign participation and codes in the store
from the command line — the same operations, checks and JSON as the HTTP API
(`GET /v1/programs/{program}/campaigns`, `…/campaigns/{id}/participants`,
`…/members/{id}/campaigns`, `…/campaigns/{id}/codes`, `…/codes/{code}`,
`…/members/{id}/referral-code`)."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from typing import Any

import click

from cli.db_cmd import database_option
from cli.output import cli_actor, fail
from cli.redeem_cmd import _instant, _run


def _at(value: str | None, database_url: str) -> datetime:
    import store.clock as clock

    checked = _instant(value, database_url)
    return clock.now() if checked is None else datetime.fromisoformat(checked)


@click.group("campaigns")
def campaigns_group() -> None:
    """Running campaigns and who may take part; join and leave opt-in campaigns; a
    member's progress (exit 5 when refused).

    \b
    Example:
      loyalty campaigns list retail --member CUST-1
      loyalty campaigns join retail spring-club CUST-1
      loyalty campaigns progress retail CUST-1
    """


@campaigns_group.command("list")
@click.argument("program")
@click.option("--member", "member_id", help="say whether this member is eligible, and why not")
@click.option("--as-of", "as_of", help="instant to answer for (ISO 8601; default: now)")
@database_option
def list_campaigns(program: str, member_id: str | None, as_of: str | None,
                   database_url: str) -> None:
    """The campaigns running now (or --as-of), as JSON.

    \b
    Example:
      loyalty campaigns list retail --member CUST-1
    """
    import store.campaigns.participants as participants

    at = _at(as_of, database_url)
    _run(database_url, lambda db, cache: participants.eligibility(db, cache, program,
                                                                  member_id, at))


def _participate(program: str, campaign: str, member_id: str, as_of: str | None,
                 database_url: str, join: bool) -> None:
    import store.campaigns.participants as participants

    at = _at(as_of, database_url)
    _run(database_url, lambda db, cache: participants.participate(
        db, cache, program, campaign, member_id, at, join)[1])


@campaigns_group.command("join")
@click.argument("program")
@click.argument("campaign")
@click.argument("member_id")
@click.option("--as-of", "as_of", help="when the member joins (ISO 8601; default: now)")
@database_option
def join(program: str, campaign: str, member_id: str, as_of: str | None,
         database_url: str) -> None:
    """Enrol MEMBER_ID in opt-in CAMPAIGN (joining twice changes nothing).

    \b
    Example:
      loyalty campaigns join retail spring-club CUST-1
    """
    _participate(program, campaign, member_id, as_of, database_url, True)


@campaigns_group.command("leave")
@click.argument("program")
@click.argument("campaign")
@click.argument("member_id")
@click.option("--as-of", "as_of", help="when the member leaves (ISO 8601; default: now)")
@database_option
def leave(program: str, campaign: str, member_id: str, as_of: str | None,
          database_url: str) -> None:
    """Take MEMBER_ID out of opt-in CAMPAIGN.

    \b
    Example:
      loyalty campaigns leave retail spring-club CUST-1
    """
    _participate(program, campaign, member_id, as_of, database_url, False)


@campaigns_group.command("progress")
@click.argument("program")
@click.argument("member_id")
@click.option("--as-of", "as_of", help="instant to answer for (ISO 8601; default: now)")
@database_option
def progress(program: str, member_id: str, as_of: str | None, database_url: str) -> None:
    """A member's uses, uses left, budget left, challenge and seasonal cap spend.

    \b
    Example:
      loyalty campaigns progress retail CUST-1
    """
    import store.campaigns.participants as participants

    at = _at(as_of, database_url)
    _run(database_url, lambda db, cache: participants.member_progress(db, cache, program,
                                                                      member_id, at))


@click.group("codes")
def codes_group() -> None:
    """Coupon codes of campaigns that declare `requires_code: true`, and members'
    referral codes (exit 5 when refused).

    \b
    Example:
      loyalty codes generate --program retail --campaign spring-coupon --count 500 > codes.csv
      loyalty codes show retail K7QF-2MZP-9XWA
      loyalty codes referral retail CUST-1
    """


@codes_group.command("generate")
@click.option("--program", required=True, help="the program")
@click.option("--campaign", required=True, help="a campaign with `requires_code: true`")
@click.option("--count", type=click.IntRange(1, 100_000), required=True,
              help="how many codes")
@click.option("--uses", type=click.IntRange(1, 1_000_000), default=1, show_default=True,
              help="uses of each code (1: single-use)")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True),
              help="write the CSV here instead of stdout")
@database_option
def generate(program: str, campaign: str, count: int, uses: int, out_path: str | None,
             database_url: str) -> None:
    """Make COUNT new codes of CAMPAIGN and print them as CSV (code,campaign,uses) — the
    file `loyalty simulate --codes` reads.

    \b
    Example:
      loyalty codes generate --program retail --campaign spring-coupon --count 500 \\
          --uses 1 --out codes.csv
    """
    import store.campaigns.codes as codes
    from cli.db_cmd import open_db
    from store.errors import StoreError
    from store.registry.programs import ProgramCache

    database = open_db(database_url)
    try:
        made: dict[str, Any] = codes.generate(database, ProgramCache(), program, campaign,
                                              count, uses, cli_actor())
    except StoreError as exc:
        fail(f"{exc.code}: {exc.message}", code=5)
    finally:
        database.dispose()
    rows = [["code", "campaign", "uses"], *([code, campaign, uses] for code in made["codes"])]
    if out_path is None:
        csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
        return
    with open(out_path, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream, lineterminator="\n").writerows(rows)
    click.echo(f"{count} codes of {campaign} written to {out_path}", err=True)


@codes_group.command("show")
@click.argument("program")
@click.argument("code")
@database_option
def show(program: str, code: str, database_url: str) -> None:
    """A coupon code's campaign, uses and uses left, as JSON.

    \b
    Example:
      loyalty codes show retail K7QF-2MZP-9XWA
    """
    import store.campaigns.codes as codes

    _run(database_url, lambda db, _: codes.code_status(db, program, code))


@codes_group.command("referral")
@click.argument("program")
@click.argument("member_id")
@database_option
def referral(program: str, member_id: str, database_url: str) -> None:
    """A member's referral code (made on first ask, the same ever after), as JSON.

    \b
    Example:
      loyalty codes referral retail CUST-1
    """
    import store.campaigns.codes as codes
    import store.campaigns.participants as participants

    def work(db: Any, _: Any) -> dict[str, Any]:
        participants.known_member(db, program, member_id)
        return {"program": program, "member_id": member_id,
                "code": codes.referral_code(db, program, member_id)}
    _run(database_url, work)
