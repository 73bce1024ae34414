"""`loyalty companies …` and `loyalty managers …`: the B2B portal's companies, their
account managers and the managers' personal keys, administered on the service's
database (like `loyalty keys`; every change is audited as `cli:$USER`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from cli.db_cmd import database_option, open_db
from cli.output import cli_actor, dump_json, fail

ROLES = ("viewer", "requester", "approver", "company_admin")
THRESHOLD = click.IntRange(0, 2**31 - 1)


@contextmanager
def _refusals() -> Iterator[None]:
    """A store refusal is one line and exit 1, naming the field where there is one."""
    from store.errors import StoreError

    try:
        yield
    except StoreError as exc:
        where = f" ({exc.pointer.lstrip('/')})" if exc.pointer else ""
        fail(f"{exc.code}{where}: {exc.message}")


def _tiers(database: Any, program: str) -> frozenset[str]:
    import store.b2b.portal as portal
    import store.clock as clock
    from store.registry.programs import ProgramCache

    with _refusals():
        return portal.tiers(database, ProgramCache(), program, clock.now())


def _write(database: Any, action: Callable[[Any], Any]) -> Any:
    with _refusals(), database.writing() as session:
        return action(session)


@click.group("companies")
def companies_group() -> None:
    """The B2B portal's companies of a program: create, update, deactivate, list.

    \b
    Example:
      loyalty companies create b2b-portal ACME --name "Acme Corp" --account ACC-4711 --tier enterprise
      loyalty companies list b2b-portal
    """


@companies_group.command("create")
@click.argument("program")
@click.argument("company_id")
@click.option("--name", required=True, help="the company's name")
@click.option("--account", "account", required=True,
              help="its loyalty_account_id in the external points API (unique in the program)")
@click.option("--tier", required=True, help="a tier id of the program's live ruleset")
@click.option("--approval-threshold", type=THRESHOLD, default=None,
              help="orders above this many points wait for an approver (default: never)")
@database_option
def create_company(program: str, company_id: str, name: str, account: str, tier: str,
                   approval_threshold: int | None, database_url: str) -> None:
    """Add a company and print it (JSON).

    \b
    Example:
      loyalty companies create b2b-portal ACME --name "Acme Corp" --account ACC-4711 \\
        --tier enterprise --approval-threshold 100000
    """
    import store.b2b.companies as companies

    database = open_db(database_url)
    tiers = _tiers(database, program)
    made = _write(database, lambda s: companies.create(
        s, program, company_id, name, account, tier, tiers, approval_threshold,
        actor=cli_actor()))
    click.echo(dump_json(made.to_json()))


@companies_group.command("update")
@click.argument("program")
@click.argument("company_id")
@click.option("--name", default=None)
@click.option("--account", "account", default=None, help="a new loyalty_account_id")
@click.option("--tier", default=None, help="a tier id of the program's live ruleset")
@click.option("--approval-threshold", type=THRESHOLD, default=None)
@click.option("--no-approval-threshold", is_flag=True,
              help="orders never wait for approval")
@click.option("--activate", is_flag=True, help="reactivate a deactivated company")
@database_option
def update_company(program: str, company_id: str, name: str | None, account: str | None,
                   tier: str | None, approval_threshold: int | None,
                   no_approval_threshold: bool, activate: bool, database_url: str) -> None:
    """Change what is given and print the company (JSON).

    \b
    Example:
      loyalty companies update b2b-portal ACME --tier business --no-approval-threshold
    """
    import store.b2b.companies as companies

    if no_approval_threshold and approval_threshold is not None:
        fail("give --approval-threshold or --no-approval-threshold, not both")
    database = open_db(database_url)
    tiers = _tiers(database, program) if tier is not None else frozenset()
    change = companies.CompanyChange(name=name, loyalty_account_id=account, tier=tier,
                                     approval_threshold=approval_threshold,
                                     clear_threshold=no_approval_threshold,
                                     active=True if activate else None)
    changed = _write(database, lambda s: companies.update(
        s, program, company_id, change, tiers, actor=cli_actor()))
    click.echo(dump_json(changed.to_json()))


@companies_group.command("deactivate")
@click.argument("program")
@click.argument("company_id")
@database_option
def deactivate_company(program: str, company_id: str, database_url: str) -> None:
    """Deactivate a company: its managers can no longer act (records stay).

    \b
    Example:
      loyalty companies deactivate b2b-portal ACME
    """
    import store.b2b.companies as companies

    _write(open_db(database_url), lambda s: companies.deactivate(s, program, company_id,
                                                        actor=cli_actor()))
    click.echo(f"deactivated {company_id}")


@companies_group.command("list")
@click.argument("program")
@click.option("--active/--all", "active_only", default=False,
              help="only active companies (default: all)")
@click.option("--json", "as_json", is_flag=True, help="a JSON list instead of a table")
@database_option
def list_companies(program: str, active_only: bool, as_json: bool, database_url: str) -> None:
    """The program's companies.

    \b
    Example:
      loyalty companies list b2b-portal --active
    """
    import store.b2b.portal as portal

    with _refusals():
        found = portal.listing(open_db(database_url), program, True if active_only else None)
    if as_json:
        click.echo(dump_json([c.to_json() for c in found]))
        return
    for c in found:
        threshold = "-" if c.approval_threshold is None else str(c.approval_threshold)
        click.echo(f"{c.company_id}\t{'active' if c.active else 'inactive'}\t{c.tier}\t"
                   f"{c.loyalty_account_id}\t{threshold}\t{c.name}")


@click.group("managers")
def managers_group() -> None:
    """A company's account managers and their personal keys.

    \b
    Example:
      loyalty managers create b2b-portal ACME alice --name Alice --email alice@acme.example --role company_admin
      KEY=$(loyalty managers key b2b-portal ACME alice | tail -n 1)
    """


@managers_group.command("create")
@click.argument("program")
@click.argument("company_id")
@click.argument("manager_id")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@database_option
def create_manager(program: str, company_id: str, manager_id: str, name: str, email: str,
                   role: str, database_url: str) -> None:
    """Add an account manager to a company and print them (JSON).

    \b
    Example:
      loyalty managers create b2b-portal ACME bob --name Bob --email bob@acme.example --role requester
    """
    import store.b2b.managers as managers

    made = _write(open_db(database_url), lambda s: managers.create(
        s, program, company_id, manager_id, name, email, role, actor=cli_actor()))
    click.echo(dump_json(made.to_json()))


@managers_group.command("list")
@click.argument("program")
@click.argument("company_id")
@click.option("--json", "as_json", is_flag=True, help="a JSON list instead of a table")
@database_option
def list_managers(program: str, company_id: str, as_json: bool, database_url: str) -> None:
    """The company's account managers.

    \b
    Example:
      loyalty managers list b2b-portal ACME
    """
    import store.b2b.managers as managers

    database = open_db(database_url)
    with _refusals(), database.reading() as session:
        found = managers.listing(session, program, company_id)
    if as_json:
        click.echo(dump_json([m.to_json() for m in found]))
        return
    for m in found:
        click.echo(f"{m.manager_id}\t{'active' if m.active else 'inactive'}\t{m.role}\t"
                   f"{m.email}\t{m.name}")


@managers_group.command("deactivate")
@click.argument("program")
@click.argument("company_id")
@click.argument("manager_id")
@database_option
def deactivate_manager(program: str, company_id: str, manager_id: str,
                       database_url: str) -> None:
    """Deactivate a manager: their keys and tokens stop working.

    \b
    Example:
      loyalty managers deactivate b2b-portal ACME bob
    """
    import store.b2b.managers as managers

    _write(open_db(database_url), lambda s: managers.deactivate(s, program, company_id, manager_id,
                                                       actor=cli_actor()))
    click.echo(f"deactivated {manager_id}")


@managers_group.command("key")
@click.argument("program")
@click.argument("company_id")
@click.argument("manager_id")
@click.option("--name", default="", help="what the key is for")
@database_option
def issue_key(program: str, company_id: str, manager_id: str, name: str,
              database_url: str) -> None:
    """Issue a personal key for the manager and print it once, alone on the last line.

    \b
    Example:
      KEY=$(loyalty managers key b2b-portal ACME alice --name laptop | tail -n 1)
    """
    import store.b2b.keys as manager_keys

    key, info = _write(open_db(database_url), lambda s: manager_keys.issue(
        s, program, company_id, manager_id, name, actor=cli_actor()))
    click.echo(f"issued key {info.prefix}… for {manager_id}; store it now, it cannot be "
               "shown again:")
    click.echo(key)


@managers_group.command("keys")
@click.argument("program")
@click.argument("company_id")
@click.argument("manager_id")
@database_option
def list_keys(program: str, company_id: str, manager_id: str, database_url: str) -> None:
    """The manager's personal keys (prefixes only).

    \b
    Example:
      loyalty managers keys b2b-portal ACME alice
    """
    import store.b2b.keys as manager_keys

    database = open_db(database_url)
    with _refusals(), database.reading() as session:
        found = manager_keys.listing(session, program, company_id, manager_id)
    for key in found:
        click.echo(f"{key.prefix}…\t{'revoked' if key.revoked else 'active'}\t{key.name}")


@managers_group.command("revoke-key")
@click.argument("program")
@click.argument("company_id")
@click.argument("manager_id")
@click.argument("prefix")
@database_option
def revoke_key(program: str, company_id: str, manager_id: str, prefix: str,
               database_url: str) -> None:
    """Revoke a personal key by the prefix `loyalty managers keys` shows.

    \b
    Example:
      loyalty managers revoke-key b2b-portal ACME alice lmk_AbCdEfGh
    """
    import store.b2b.keys as manager_keys

    _write(open_db(database_url), lambda s: manager_keys.revoke(
        s, program, company_id, manager_id, prefix.rstrip("…"), actor=cli_actor()))
    click.echo(f"revoked {prefix}")
