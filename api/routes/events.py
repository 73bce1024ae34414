"""The event feed (under /v1/programs/{program}): the program's domain events in commit
order, paged by cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

import store.events.feed as feed
from api.deps import ApiKeyDep, StoreDep
from api.ids import RowId
from api.render import Json
from api.routes.checkout import ProgramPath

router = APIRouter(prefix="/v1/programs/{program}", tags=["events"])


@router.get("/events", summary="Domain events of the program in commit order, after a cursor")
def events(program: ProgramPath, services: StoreDep, key: ApiKeyDep,
           after: Annotated[RowId | None, Query(
               description="`next_cursor` of the previous page; omitted: from the first event")] = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Json:
    return Json(feed.page(services.db, program, int(after) if after else 0, limit))
