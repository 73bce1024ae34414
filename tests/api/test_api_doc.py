"""docs/api.md lists every route of the API's OpenAPI document, written in full (method and
`/v1` path with the document's parameter names), and no `/v1` route the API lacks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "post", "put", "patch", "delete")
ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`|?]*)")


def _documented() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return {(method, path) for method, path in ROUTE.findall(text)}


def test_every_route_is_in_the_api_doc(app) -> None:
    routes = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
              for method in operations if method in METHODS}
    assert len(routes) > 20
    documented = _documented()
    missing = sorted(f"{m} {p}" for m, p in routes - documented)
    assert not missing, ("docs/api.md does not list these routes (write each as "
                         f"`METHOD /v1/path` in the endpoint table): {missing}")
    stale = sorted(f"{m} {p}" for m, p in documented - routes if p.startswith("/v1/"))
    assert not stale, f"docs/api.md names routes the API does not have: {stale}"
