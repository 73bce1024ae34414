"""Coupon codes of campaigns and members' referral codes.

Coupon codes are generated in bulk for a campaign that declares `requires_code: true`,
each with a number of uses (1: single-use); commits take the uses and full refunds give
them back (store/ledger/coupons.py).

A member's referral code is made from the program and member id (a digest, so the same
member gets the same code), stored on first use, and unique in the program.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import engine.evaluation.contract as contract
from engine.program import Program
from store.db.database import Database
from store.errors import Conflict, NotFound, Unprocessable
from store.registry.programs import ProgramCache
from store.tables.codes import CouponCodeRow, ReferralCodeRow

# Letters and digits that cannot be mistaken for each other when read aloud or typed.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_COUNT = 100_000
MAX_USES = 1_000_000


def _random_code() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def coded_campaign(program: Program, campaign_id: str) -> None:
    """Refuse unless `campaign_id` is a campaign of `program` that requires a code."""
    campaign = next((c for c in program.model.campaigns if c.id == campaign_id), None)
    if campaign is None:
        known = ", ".join(c.id for c in program.model.campaigns if c.requires_code) or "none"
        raise NotFound("unknown_campaign", f"no campaign {campaign_id!r} in {program.name} "
                       f"(campaigns that take codes: {known})", pointer="/campaign")
    if not campaign.requires_code:
        raise Unprocessable("codes_not_required", f"campaign {campaign_id!r} does not declare "
                            "`requires_code: true`: it applies without a code",
                            pointer="/campaign")


def generate(db: Database, cache: ProgramCache, program_id: str, campaign_id: str,
             count: int, uses: int, actor: str) -> dict[str, object]:
    """`count` new codes of `campaign_id` (the live version's), `uses` uses each."""
    if not 1 <= count <= MAX_COUNT:
        raise Unprocessable("invalid_count", f"count must be 1 to {MAX_COUNT}, got {count}",
                            pointer="/count")
    if not 1 <= uses <= MAX_USES:
        raise Unprocessable("invalid_uses", f"uses must be 1 to {MAX_USES}, got {uses}",
                            pointer="/uses")
    now = datetime.now(UTC)
    with db.writing() as session:
        program = cache.resolve(session, program_id, now)
        coded_campaign(program, campaign_id)
        codes: list[str] = []
        while len(codes) < count:
            fresh = sorted({_random_code() for _ in range(count - len(codes))} - set(codes))
            taken = set(session.scalars(select(CouponCodeRow.code).where(
                CouponCodeRow.program == program_id, CouponCodeRow.code.in_(fresh))))
            codes.extend(c for c in fresh if c not in taken)
        batch = _insert(session, program_id, campaign_id, codes, uses, actor, now)
    return {"program": program_id, "campaign": campaign_id, "batch": batch, "uses": uses,
            "codes": codes}


def add(db: Database, cache: ProgramCache, program_id: str, campaign_id: str,
        codes: list[str], uses: int, actor: str) -> str:
    """Store codes made elsewhere (each a valid code, new to the program); the batch id.
    A code the program has already is a 409 `code_exists`."""
    now = datetime.now(UTC)
    wanted = [contract.code(c) for c in codes]
    with db.writing() as session:
        program = cache.resolve(session, program_id, now)
        coded_campaign(program, campaign_id)
        taken = sorted(session.scalars(select(CouponCodeRow.code).where(
            CouponCodeRow.program == program_id, CouponCodeRow.code.in_(wanted))))
        if taken or len(set(wanted)) != len(wanted):
            raise Conflict("code_exists", f"codes already in {program_id!r} or given twice: "
                           f"{', '.join(taken) or 'a duplicate'}", pointer="/codes")
        return _insert(session, program_id, campaign_id, wanted, uses, actor, now)


def _insert(session: Session, program_id: str, campaign_id: str, codes: list[str],
            uses: int, actor: str, now: datetime) -> str:
    batch = secrets.token_hex(8)
    for start in range(0, len(codes), 5000):
        session.execute(insert(CouponCodeRow), [
            {"program": program_id, "code": code, "campaign_id": campaign_id,
             "max_uses": uses, "used": 0, "batch": batch, "created_by": actor,
             "created_at": now} for code in codes[start:start + 5000]])
    return batch


def code_status(db: Database, program_id: str, code: str) -> dict[str, object]:
    with db.read_connection() as conn:
        found = conn.execute(select(CouponCodeRow).where(
            CouponCodeRow.program == program_id, CouponCodeRow.code == code.upper())).first()
    if found is None:
        raise NotFound("unknown_code", f"no code {code!r} in program {program_id!r}")
    return {"code": found.code, "campaign": found.campaign_id, "uses": found.max_uses,
            "used": found.used, "left": max(0, found.max_uses - found.used),
            "batch": found.batch, "created_at": found.created_at.isoformat()}


# ---------------------------------------------------------------- referral codes

def _derived(program_id: str, member_id: str, attempt: int) -> str:
    digest = hashlib.sha256(f"{program_id}\0{member_id}\0{attempt}".encode()).digest()
    chars = "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:8])
    return f"R-{chars}"


def referral_code(db: Database, program_id: str, member_id: str) -> str:
    """The member's referral code, made and stored on first ask (the same code every
    time after)."""
    with db.writing() as session:
        found = session.scalar(select(ReferralCodeRow.code).where(
            ReferralCodeRow.program == program_id, ReferralCodeRow.member_id == member_id))
        if found is not None:
            return found
        for attempt in range(16):
            code = _derived(program_id, member_id, attempt)
            try:
                with session.begin_nested():
                    session.execute(insert(ReferralCodeRow).values(
                        program=program_id, member_id=member_id, code=code,
                        created_at=datetime.now(UTC)))
                return code
            except IntegrityError:
                again = session.scalar(select(ReferralCodeRow.code).where(
                    ReferralCodeRow.program == program_id,
                    ReferralCodeRow.member_id == member_id))
                if again is not None:  # a concurrent ask stored it
                    return again
    raise Conflict("referral_code_unavailable", "no free referral code for this member")


def referrer_by_code(session: Session, program_id: str, code: str) -> str:
    """The member whose referral code `code` is (422 when none)."""
    found = session.scalar(select(ReferralCodeRow.member_id).where(
        ReferralCodeRow.program == program_id, ReferralCodeRow.code == code.upper()))
    if found is None:
        raise Unprocessable("unknown_referral_code", f"no member of {program_id!r} has the "
                            f"referral code {code!r}", pointer="/referral_code")
    return found
