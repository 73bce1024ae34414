"""The `loyalty` command: a thin layer over engine/ (and the store, for server commands)."""

import click

from cli.evaluate_cmd import evaluate, explain
from cli.schema_cmd import schema
from cli.validate_cmd import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loyalty-rules")
def cli() -> None:
    """Loyalty programs as code: validate, test, evaluate and serve YAML rulesets."""


cli.add_command(evaluate)
cli.add_command(explain)
cli.add_command(validate)
cli.add_command(schema)


def main() -> None:
    cli()
