"""The `loyalty` command: a thin layer over engine/ (and the store, for server commands)."""

import click

from cli.audit_cmd import audit
from cli.b2b_cmd import companies_group, managers_group
from cli.b2b_orders_cmd import b2b_orders_group
from cli.campaigns_cmd import campaigns_group, codes_group
from cli.ci_cmd import ci
from cli.db_cmd import db
from cli.evaluate_cmd import evaluate, explain
from cli.expire_cmd import expire
from cli.export_cmd import export_history
from cli.generate_cmd import generate
from cli.import_cmd import import_history
from cli.inventory_cmd import inventory_group
from cli.jobs_cmd import jobs
from cli.keys_cmd import keys
from cli.members_cmd import members_group
from cli.redeem_cmd import redemptions_group
from cli.registry_cmd import activate, approve, diff, publish, rulesets_group
from cli.reports_cmd import report
from cli.schema_cmd import schema
from cli.serve_cmd import serve
from cli.shadow_cmd import shadow_group
from cli.simulate_cmd import simulate
from cli.test_cmd import test
from cli.validate_cmd import validate
from cli.verify_cmd import verify


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loyalty-rules")
def cli() -> None:
    """Loyalty programs as code: validate, test, evaluate and serve YAML rulesets.

    \b
    Example:
      loyalty validate rulesets/retail
      loyalty evaluate -r rulesets/retail -i examples/requests/gold-weekend.json
      loyalty simulate --help               # every command has its own --help
    """


cli.add_command(evaluate)
cli.add_command(explain)
cli.add_command(validate)
cli.add_command(verify)
cli.add_command(schema)
cli.add_command(test)
cli.add_command(generate)
cli.add_command(simulate)
cli.add_command(ci)
for _command in (db, keys, publish, approve, activate, diff, rulesets_group, audit, serve, expire,
                 jobs, redemptions_group, members_group, campaigns_group, codes_group,
                 import_history, export_history, report, shadow_group, companies_group,
                 managers_group, inventory_group, b2b_orders_group):
    cli.add_command(_command)


def main() -> None:
    cli()
