"""The audit log: who published, approved, activated or rolled back what, and key changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

import store.registry.audit as audit
from api.deps import AdminKey, StoreDep
from api.ids import Id, RowId
from api.instants import Instant
from api.render import Json
from api.schemas import ProgramId

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", summary="Audit entries, newest first, filtered and in pages")
def audit_log(services: StoreDep, key: AdminKey,
              program: Annotated[ProgramId | None, Query()] = None,
              actor: Annotated[Id | None, Query(description="e.g. key:lrk_AbC123")] = None,
              action: Annotated[Id | None, Query(description="e.g. ruleset.activate")] = None,
              from_: Annotated[Instant | None, Query(alias="from",
                                                     description="entries at or after")] = None,
              to: Annotated[Instant | None, Query(description="entries before")] = None,
              cursor: Annotated[RowId | None, Query(description="next_cursor of the "
                                                    "previous page")] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Json:
    # A key bound to a program reads that program's entries only.
    where = audit.AuditFilter(program or key.program, actor, action, from_, to)
    return Json(audit.read(services.db, where, int(cursor) if cursor else None, limit))
