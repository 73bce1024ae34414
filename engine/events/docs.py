"""The event types' reference for docs/events.md, generated from the catalog.

``python -m engine.events.docs`` prints it; docs/events.md holds it between the
``<!-- catalog:start -->`` and ``<!-- catalog:end -->`` markers, and a test checks it is
current."""

from __future__ import annotations

from engine.events.catalog import ENVELOPE, EVENT_TYPES, Field

__all__ = ["catalog_markdown"]


def _type(field: Field) -> str:
    text = " or ".join(field.types)
    if field.enum:
        text += ": " + ", ".join(f"`{v}`" for v in field.enum)
    if field.format:
        text += f" ({field.format})"
    return text


def _rows(fields: tuple[Field, ...], prefix: str = "") -> list[str]:
    rows = []
    for field in fields:
        rows.append(f"| `{prefix}{field.name}` | {_type(field)} | {field.description} |")
        rows.extend(_rows(field.fields, f"{prefix}{field.name}."))
    return rows


def catalog_markdown() -> str:
    lines = ["### The envelope", "",
             "| field | type | meaning |", "|---|---|---|", *_rows(ENVELOPE), ""]
    for name, event in EVENT_TYPES.items():
        alert = " *(alert)*" if event.alert else ""
        lines += [f"### `{name}`{alert}", "", event.description, "",
                  "| payload field | type | meaning |", "|---|---|---|", *_rows(event.fields), ""]
    return "\n".join(lines).rstrip("\n")


if __name__ == "__main__":
    print(catalog_markdown())
