"""Table models of shadow evaluation (store/shadow/): a published version evaluated beside
the live one on every live quote and commit, without writing to the ledger.

`shadow_runs` is one period a version spent in shadow (started, stopped); its aggregates
are counters every server process adds to with upserts, so the figures of several workers
add up: `shadow_counts` (points by rule, orders, redemption decisions… of each side, and
the run's own figures: requests, failures, drops, differences), `shadow_members` (each
member's points on both sides and the tier each side would give them) and `shadow_samples`
(a bounded sample of the requests that showed each kind of difference, with both
results and their traces)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import UTCDateTime
from store.tables.core import Base, BigId


class ShadowRunRow(Base):
    __tablename__ = "shadow_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(ForeignKey("programs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stopped_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ShadowCountRow(Base):
    """One counter of a run: `side` live | shadow | run, `kind` a table of the report
    (totals, by_rule, redemptions, differences…), `key` a row of it."""

    __tablename__ = "shadow_counts"
    run_id: Mapped[int] = mapped_column(ForeignKey("shadow_runs.id"), primary_key=True)
    side: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ShadowMemberRow(Base):
    """A member seen by a run: points of the orders on each side, the tier each side gave
    them after their latest order, and how many of their requests the tiers differed on."""

    __tablename__ = "shadow_members"
    run_id: Mapped[int] = mapped_column(ForeignKey("shadow_runs.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    live_points: Mapped[int] = mapped_column(BigInteger)
    shadow_points: Mapped[int] = mapped_column(BigInteger)
    tier_differences: Mapped[int] = mapped_column(BigInteger)
    live_tier: Mapped[str | None] = mapped_column(String(64), nullable=True)
    shadow_tier: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ShadowSampleRow(Base):
    """A request that showed a difference (or a failure) of `kind`, in slot 1…N of its
    kind: the slots bound the sample whatever the number of processes writing."""

    __tablename__ = "shadow_samples"
    run_id: Mapped[int] = mapped_column(ForeignKey("shadow_runs.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))  # quote commit
    member_id: Mapped[str] = mapped_column(String(200))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    live: Mapped[dict[str, Any]] = mapped_column(JSON)
    shadow: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
