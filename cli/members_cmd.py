"""`loyalty members`: look a member up and administer them, over the running service (an
admin key in LOYALTY_KEY for the changes; any key of the program for the reads)."""

from __future__ import annotations

import json
from typing import Any

import click

from cli.registry_cmd import parse_instant
from cli.service import DEFAULT_URL, Service, segment

POINTS_LIMIT = 10**12


def _url_option(fn: Any) -> Any:
    return click.option("--url", envvar="LOYALTY_URL", default=DEFAULT_URL,
                        show_default=True,
                        help="the loyalty service (env LOYALTY_URL); authenticates with the "
                             "key in LOYALTY_KEY")(fn)


def _member(program: str, member_id: str) -> str:
    return f"/v1/programs/{segment(program)}/members/{segment(member_id)}"


def _show(answer: Any) -> None:
    click.echo(json.dumps(answer, indent=2))


@click.group("members")
def members_group() -> None:
    """Look members up, read their insights and administer them.

    \b
    Example:
      loyalty members show retail CUST-1
      loyalty members insights retail CUST-1 --from 2026-01-01T00:00:00Z
    """


@members_group.command("show")
@click.argument("program")
@click.argument("member_id")
@_url_option
def show(program: str, member_id: str, url: str) -> None:
    """The member summary: tier, balance, status, cashback, lots, progress (JSON).

    \b
    Example:
      loyalty members show retail CUST-1
    """
    _show(Service(url.rstrip("/")).call("GET", _member(program, member_id)))


@members_group.command("adjust")
@click.argument("program")
@click.argument("member_id")
@click.argument("points", type=click.IntRange(-POINTS_LIMIT, POINTS_LIMIT))
@click.option("--reason", required=True, help="why (kept in the audit log)")
@_url_option
def adjust(program: str, member_id: str, points: int, reason: str, url: str) -> None:
    """Credit (POINTS > 0) or debit (POINTS < 0) points by hand, as an `adjust` ledger
    entry; audited with the reason. Put `--` before a negative POINTS.

    \b
    Example:
      loyalty members adjust retail CUST-1 250 --reason "goodwill: late parcel"
      loyalty members adjust retail CUST-1 --reason "duplicate credit" -- -100
    """
    if points == 0:
        raise click.BadParameter("an adjustment moves at least one point", param_hint="POINTS")
    answer = Service(url.rstrip("/")).call("POST", _member(program, member_id) + "/adjustments",
                                           json={"points": points, "reason": reason})
    click.echo(f"{member_id}: {points:+} points ({answer['adjustment']['ref']}); balance "
               f"{answer['balance']}")


@members_group.command("status")
@click.argument("program")
@click.argument("member_id")
@click.argument("status", type=click.Choice(["active", "suspended", "closed"]))
@click.option("--reason", required=True, help="why (kept in the audit log)")
@_url_option
def status(program: str, member_id: str, status: str, reason: str, url: str) -> None:
    """Set the member's status. A suspended member neither earns nor redeems; closing
    forfeits the balance (an `adjust` entry) and is final.

    \b
    Example:
      loyalty members status retail CUST-1 suspended --reason "chargeback review"
    """
    answer = Service(url.rstrip("/")).call("POST", _member(program, member_id) + "/status",
                                           json={"status": status, "reason": reason})
    forfeited = answer.get("points_forfeited") or 0
    click.echo(f"{member_id}: {answer['before']} -> {answer['status']}"
               + (f"; {forfeited} points forfeited" if forfeited else ""))


@members_group.command("tier")
@click.argument("program")
@click.argument("member_id")
@click.argument("tier", required=False)
@click.option("--until", help="when the override ends (ISO 8601 with an offset; default: "
              "never)")
@click.option("--lift", is_flag=True, help="lift the override instead")
@click.option("--reason", required=True, help="why (kept in the audit log)")
@_url_option
def tier(program: str, member_id: str, tier: str | None, until: str | None, lift: bool,
         reason: str, url: str) -> None:
    """Hold TIER until --until whatever qualification says, or --lift the override.

    \b
    Example:
      loyalty members tier retail CUST-1 gold --until 2027-12-31T23:59:59Z --reason "status match"
      loyalty members tier retail CUST-1 --lift --reason "ended early"
    """
    if lift == (tier is not None):
        raise click.UsageError("name a TIER, or pass --lift (not both)")
    end = parse_instant(until, "--until")
    answer = Service(url.rstrip("/")).call(
        "POST", _member(program, member_id) + "/tier-override",
        json={"tier": tier, "until": end.isoformat() if end else None, "reason": reason})
    click.echo(f"{member_id}: tier {answer['tier']}"
               + (f" until {until}" if tier and until else ""))


@members_group.command("erase")
@click.argument("program")
@click.argument("member_id")
@click.option("--reason", required=True, help="the request (kept in the audit log)")
@_url_option
def erase(program: str, member_id: str, reason: str, url: str) -> None:
    """Erase the member's personal attributes on request; the ledger and the books stay.

    \b
    Example:
      loyalty members erase retail CUST-1 --reason "erasure request 2027-014"
    """
    answer = Service(url.rstrip("/")).call("POST", _member(program, member_id) + "/erasure",
                                           json={"reason": reason})
    click.echo(f"{member_id}: attributes removed: "
               f"{', '.join(answer['attributes_removed']) or 'none'}")


def _listing(what: str, kinds: list[str], kind_parameter: str = "kind") -> Any:
    @click.argument("program")
    @click.argument("member_id")
    @click.option("--from", "since", help="at or after this ISO instant")
    @click.option("--to", "until", help="before this ISO instant")
    @click.option(f"--{kind_parameter}", "kind", type=click.Choice(kinds),
                  help=f"only this {kind_parameter}")
    @click.option("--cursor", help="the next page: the cursor the previous one printed")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
    @_url_option
    def listing(program: str, member_id: str, since: str | None, until: str | None,
                kind: str | None, cursor: str | None, limit: int, url: str) -> None:
        start, end = parse_instant(since, "--from"), parse_instant(until, "--to")
        if cursor is not None and not (cursor.isascii() and cursor.isdigit()
                                       and len(cursor) <= 18):
            raise click.BadParameter("not a cursor; pass the number the previous page "
                                     "printed", param_hint="--cursor")
        _show(Service(url.rstrip("/")).call("GET", _member(program, member_id) + "/" + what,
                                            params={"from": start.isoformat() if start else None,
                                                    "to": end.isoformat() if end else None,
                                                    kind_parameter: kind, "cursor": cursor,
                                                    "limit": limit}))
    return listing


ledger = members_group.command("ledger", help=(
    "The member's ledger entries, newest first (JSON, with next_cursor).\n\n\b\nExample:\n"
    "  loyalty members ledger retail CUST-1 --from 2026-11-01T00:00:00Z --kind adjust"))(
    _listing("ledger", ["earn", "bonus", "redeem", "expire", "reverse", "adjust"]))
cashback = members_group.command("cashback", help=(
    "The member's cashback entries and totals, newest first (JSON, with next_cursor).\n\n\b\n"
    "Example:\n  loyalty members cashback card-rewards CARD-1 --kind reverse"))(
    _listing("cashback", ["issue", "reverse"]))
redemptions = members_group.command("redemptions", help=(
    "The member's redemptions, newest first (JSON, with next_cursor).\n\n\b\nExample:\n"
    "  loyalty members redemptions retail CUST-1 --kind reward"))(
    _listing("redemptions", ["points", "reward", "automatic", "gift"]))
messages = members_group.command("messages", help=(
    "The messages planned for the member, newest first, with their status and why (JSON, "
    "with next_cursor).\n\n\b\nExample:\n  loyalty members messages retail CUST-1 "
    "--status suppressed"))(
    _listing("messages", ["pending", "sending", "sent", "deferred", "suppressed", "failed"],
             "status"))


@members_group.group("preferences")
def preferences_group() -> None:
    """A member's notification preferences: channels, locale, email, marketing opt-out.

    \b
    Example:
      loyalty members preferences show retail CUST-1
      loyalty members preferences set retail CUST-1 --locale es --channel email
    """


@preferences_group.command("show")
@click.argument("program")
@click.argument("member_id")
@_url_option
def preferences_show(program: str, member_id: str, url: str) -> None:
    """The member's preferences (JSON; `updated_at` null: never set, the defaults).

    \b
    Example:
      loyalty members preferences show retail CUST-1
    """
    _show(Service(url.rstrip("/")).call("GET", _member(program, member_id) + "/preferences"))


@preferences_group.command("set")
@click.argument("program")
@click.argument("member_id")
@click.option("--channel", "channels", multiple=True, type=click.Choice(["email", "webhook"]),
              help="a channel the member accepts (repeat for several); the others are off")
@click.option("--no-channels", is_flag=True, help="accept no channel at all")
@click.option("--locale", help="the member's language, e.g. es or pt-BR")
@click.option("--default-locale", is_flag=True, help="use the program's default locale")
@click.option("--email", help="the address emails go to")
@click.option("--no-email", is_flag=True, help="forget the email address")
@click.option("--marketing-opt-out/--marketing-opt-in", default=None,
              help="refuse (or accept again) marketing messages; transactional ones are "
                   "always sent")
@_url_option
def preferences_set(program: str, member_id: str, channels: tuple[str, ...], no_channels: bool,
                    locale: str | None, default_locale: bool, email: str | None,
                    no_email: bool, marketing_opt_out: bool | None, url: str) -> None:
    """Set some of the member's preferences; the ones not named keep their value. Needs
    a commit or admin key.

    \b
    Example:
      loyalty members preferences set retail CUST-1 --locale es --email ana@example.com
      loyalty members preferences set retail CUST-1 --marketing-opt-out
    """
    body: dict[str, Any] = {}
    for flag, clear, name, value, empty in (
            ("--channel", no_channels, "channels", list(channels), []),
            ("--locale", default_locale, "locale", locale, None),
            ("--email", no_email, "email", email, None)):
        if clear and value:
            raise click.UsageError(f"{flag} and its opposite cannot go together")
        if clear:
            body[name] = empty
        elif value:
            body[name] = value
    if marketing_opt_out is not None:
        body["marketing_opt_out"] = marketing_opt_out
    if not body:
        raise click.UsageError("name at least one preference to set (see --help)")
    _show(Service(url.rstrip("/")).call("PUT", _member(program, member_id) + "/preferences",
                                        json=body))
