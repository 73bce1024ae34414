"""A program's activation timeline, as the console shows it: every activation in the order it
was made, each marked `live` (in force now), `scheduled` (takes effect later) or `past`
(superseded, or overtaken before it took effect), with what it replaced and whether it
rolled back to an older version."""

from __future__ import annotations

from typing import Any

import store.clock as clock
import store.registry.versions as registry
from store.db.database import Database
from store.registry.rulesets import activation_json


def timeline(db: Database, program: str) -> list[dict[str, Any]]:
    """Newest activation first."""
    now = clock.now()
    with db.reading() as session:
        registry.require_program(session, program)
        acts = registry.activations(session, program)
    live = registry.live_activation(acts, now)
    out = []
    for i, act in enumerate(acts):
        before = registry.live_version(acts[:i], act.effective_from)
        status = "scheduled" if act.effective_from > now else "live" if act == live else "past"
        out.append({**activation_json(act), "status": status, "replaces": before,
                    "rollback": before is not None and act.version < before})
    return out[::-1]
