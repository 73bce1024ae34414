"""Response helpers: results are JSON-ready dicts from the engine and store, so they are
serialized directly with orjson (no per-field re-encoding; the stdlib encoder took
~20x longer on a typical 3 KB result)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


def created_or_replayed(result: dict[str, Any], created: bool) -> Json:
    """201 for a new record; 200 with `Idempotent-Replay: true` for a retry."""
    return Json(result, status_code=201 if created else 200,
                headers=None if created else {"Idempotent-Replay": "true"})
