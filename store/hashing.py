"""The request hash that makes writes idempotent: a retry must resend the same body."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def request_hash(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
