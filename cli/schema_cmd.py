"""`loyalty schema`: print the shipped JSON Schemas or write them to a folder."""

from __future__ import annotations

from pathlib import Path

import click

from cli.output import EXIT_USAGE, dump_json, fail
from schemas import SCHEMA_NAMES, load_schema


@click.command()
@click.argument("name", required=False, metavar="[NAME]")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the schema (all schemas when NAME is omitted) into this folder.")
def schema(name: str | None, out_dir: Path | None) -> None:
    """Print a JSON Schema, list them, or write them to a folder for editors and CI.

    \b
    Examples:
      loyalty schema                        # list the schema names
      loyalty schema ruleset                # print schemas/ruleset.schema.json
      loyalty schema --out build/schemas    # write every schema
    """
    if name is not None and name.removesuffix(".schema.json") not in SCHEMA_NAMES:
        fail(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}", EXIT_USAGE)
    names = [name.removesuffix(".schema.json")] if name else list(SCHEMA_NAMES)
    if out_dir is None:
        if name is None:
            click.echo("\n".join(SCHEMA_NAMES))
        else:
            click.echo(dump_json(load_schema(names[0])))
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for each in names:
        target = out_dir / f"{each}.schema.json"
        target.write_text(dump_json(load_schema(each)) + "\n", encoding="utf-8")
        click.echo(str(target))


__all__ = ["schema"]
