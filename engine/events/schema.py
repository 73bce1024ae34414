"""``schemas/events.schema.json``, generated from the catalog: one ``$defs`` entry per
event type (envelope and payload, closed, every property described).

Regenerate with ``python -m engine.events.schema > schemas/events.schema.json``; a test
checks the shipped file is what this writes.
"""

from __future__ import annotations

import json
from typing import Any

from engine.events.catalog import ENVELOPE, EVENT_TYPES, EventType, Field

__all__ = ["SCHEMA_ID", "events_schema"]

SCHEMA_ID = "https://loyalty-rules.dev/schemas/events.schema.json"


def _property(field: Field) -> dict[str, Any]:
    prop: dict[str, Any] = {"description": field.description}
    prop["type"] = field.types[0] if len(field.types) == 1 else list(field.types)
    if field.enum:  # a nullable field may be null as well
        prop["enum"] = [*field.enum, *((None,) if "null" in field.types else ())]
    if field.format:
        prop["format"] = field.format
    if field.fields:
        prop.update(_object(field.fields))
    return prop


def _object(fields: tuple[Field, ...]) -> dict[str, Any]:
    return {"required": [f.name for f in fields],
            "properties": {f.name: _property(f) for f in fields},
            "additionalProperties": False}


def _definition(event: EventType) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for field in ENVELOPE:
        prop = _property(field)
        if field.name == "type":
            prop["const"] = event.name
        if field.name == "payload":
            prop["description"] = "What happened."
            prop.update(_object(event.fields))
        properties[field.name] = prop
    return {"title": event.name,
            "description": event.description + (" (An alert.)" if event.alert else ""),
            "type": "object", "required": [f.name for f in ENVELOPE],
            "properties": properties, "additionalProperties": False}


def events_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Loyalty domain event",
        "description": "One domain event, as the event feed (GET /v1/programs/{p}/events) "
                       "lists it and a webhook delivers it. `type` names one of the definitions.",
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in EVENT_TYPES],
        "$defs": {name: _definition(event) for name, event in EVENT_TYPES.items()},
    }


def schema_text() -> str:
    return json.dumps(events_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
