"""Idempotent writes: the hash of a request (a retry must resend the same body) and the
outcome every write returns (its result, and whether this call created it or replayed it)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


def request_hash(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    created: bool
