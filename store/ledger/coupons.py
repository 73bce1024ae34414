"""Coupon code uses: the shared limit a commit takes from and a full refund gives back.

A quote reads which presented codes have uses left (`resolve`); the lifecycle core
decides which of them an order uses (those whose campaign applied) and returns a
`CodeMove` per use, which a commit takes here with one conditional UPDATE
(`used + 1 <= max_uses`) inside its transaction: of two commits racing for the last use,
one gets it and the other is refused (`code_used_up`, nothing written). A full refund
gives the use back. Codes are made by store/campaigns/codes.py."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from engine.lifecycle.campaigns import code_refusal, coded_campaigns
from engine.lifecycle.changes import CodeMove
from engine.program import Program
from store.errors import Conflict
from store.tables.codes import CouponCodeRow


def resolve(session: Session | Connection, program: Program, presented: Iterable[str]
            ) -> tuple[dict[str, str], dict[str, str]]:
    """Of the codes `presented`: those with a use left, code → campaign; the others,
    code → why not (`unknown`, `used_up`, `not_in_version`: its campaign is not one of
    this version's campaigns that take codes)."""
    wanted = sorted(set(presented))
    valid: dict[str, str] = {}
    refused = dict.fromkeys(wanted, "unknown")
    if not wanted:
        return valid, refused
    coded = coded_campaigns(program.model.campaigns)
    rows = session.execute(select(CouponCodeRow.code, CouponCodeRow.campaign_id,
                                  CouponCodeRow.used, CouponCodeRow.max_uses).where(
        CouponCodeRow.program == program.program, CouponCodeRow.code.in_(wanted)))
    for code, campaign, used, most in rows:
        why = code_refusal(coded, campaign, used, most)
        if why is not None:
            refused[code] = why
        else:
            valid[code] = campaign
            del refused[code]
    return valid, refused


def move(session: Session, program: Program, change: CodeMove) -> None:
    """Take a use of a code (an order used it) or give one back (its full refund)."""
    row = CouponCodeRow
    where = [row.program == program.program, row.code == change.code]
    if change.uses > 0:
        done = session.execute(update(row).where(*where, row.used + change.uses <= row.max_uses)
                               .values(used=row.used + change.uses))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("code_used_up", f"code {change.code} has no use left: another "
                           "order took it; quote again", pointer="/codes")
    else:
        session.execute(update(row).where(*where, row.used + change.uses >= 0)
                        .values(used=row.used + change.uses))
