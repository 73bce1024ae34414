"""Copy the evaluation request's definitions into the schemas that carry its parts.

The event-history and test-suite schemas carry the request's orders, members,
redemptions and context. They stay self-contained — editors load them from a relative
path, and not every editor resolves a reference to another file the same way — so they
hold verbatim copies of the request's definitions, named ``request.<name>``.
``python -m schemas.bundle`` rewrites the copies from evaluation-request.schema.json;
tests/engine/test_schemas.py fails when a copy differs.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

PREFIX = "request."
BUNDLED = ("event", "test-suite")
_LOCAL = "#/$defs/"


def _refs(node: Any) -> set[str]:
    """Names of the local definitions ``node`` refers to."""
    if isinstance(node, dict):
        found = {node["$ref"][len(_LOCAL):]} if str(node.get("$ref", "")).startswith(
            _LOCAL) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def _renamed(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: (_LOCAL + PREFIX + value[len(_LOCAL):]
                      if key == "$ref" and isinstance(value, str) and value.startswith(_LOCAL)
                      else _renamed(value)) for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(value) for value in node]
    return node


def bundled(schema: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with fresh copies of the request definitions it uses (and those they
    use), in place of the copies it holds."""
    own = {key: value for key, value in schema.get("$defs", {}).items()
           if not key.startswith(PREFIX)}
    wanted = {name[len(PREFIX):] for name in _refs({**schema, "$defs": own})
              if name.startswith(PREFIX)}
    closure: set[str] = set()
    while wanted - closure:
        name = (wanted - closure).pop()
        closure.add(name)
        wanted |= _refs(request["$defs"][name])
    copies = {PREFIX + name: _renamed(request["$defs"][name]) for name in sorted(closure)}
    return {**schema, "$defs": {**own, **copies}}


def main() -> None:
    folder = files("schemas")
    request = json.loads(folder.joinpath("evaluation-request.schema.json").read_text("utf-8"))
    for name in BUNDLED:
        path = folder.joinpath(f"{name}.schema.json")
        schema = json.loads(path.read_text("utf-8"))
        text = json.dumps(bundled(schema, request), indent=2, ensure_ascii=False) + "\n"
        with open(str(path), "w", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()
