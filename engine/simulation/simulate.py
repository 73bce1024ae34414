"""Dry-run a ruleset over an event history, optionally against a second version.

    from engine.simulation.simulate import simulate
    report = simulate("rulesets/retail", "history.jsonl", compare_with="rulesets/retail-v2")

The history is streamed (engine/simulation/history.py), replayed member by member through the member
lifecycle the service uses (engine/simulation/replay.py, engine/lifecycle/), in one process
or split by member across several (engine/simulation/partition.py), and summarised as one
JSON-ready document (engine/simulation/stats.py).
The books balance by construction:

    points_issued - points_reversed - points_redeemed - points_expired
        == points_outstanding == sum of member balances

Refunds do not reduce `points_issued`; what they take back is `points_reversed`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.program import Program, load_program
from engine.simulation.coupons import Coupons
from engine.simulation.partition import (
    Outcome,
    PartResult,
    SimulationFailed,
    few_collections,
    run_local,
    run_parallel,
)
from engine.simulation.sources import count_events
from engine.simulation.stats import report
from engine.simulation.versions import labels, presence, source_of

__all__ = ["SimulationFailed", "count_lines", "simulate"]
TOP_CHANGED = 20


def count_lines(history: str | Path) -> int:
    """Lines (Parquet rows) of a history, every shard of it, fast (the progress bar's
    total)."""
    return count_events(history)


def _program(source: str | Path | Program | Mapping[str, str]) -> Program:
    return source if isinstance(source, Program) else load_program(source)  # type: ignore[arg-type]


def run(program: Program, history: str | Path, *, workers: int = 1, on_error: str = "skip",
        tick: Callable[[int], None] | None = None, states: bool = False,
        codes: str | Path | None = None, cluster: str | None = None) -> PartResult:
    """Replay `history` against `program`; raise SimulationFailed under on_error=fail.
    With `states`, the result carries every member's final state (JSON lines, sorted).
    `codes`: the program's coupon codes (a `code,campaign,uses` CSV); a history replayed
    with codes runs in one process (their uses are shared by every member), or on the
    cluster, sequenced as budgets and stock are. `cluster`:
    the address of a Dask scheduler to run the partitions on (`workers` of them, or one
    per worker thread when `workers` is 1; engine/simulation/cluster.py)."""
    history = Path(history)
    if cluster is not None:
        from engine.simulation.cluster import run_cluster

        part = run_cluster(program, history, cluster, workers if workers > 1 else None,
                           on_error, tick, states,
                           Coupons.read(program, codes) if codes is not None else None)
    elif workers > 1 and codes is None:
        part = run_parallel(program, history, workers, on_error, tick, states)
    else:
        coupons = Coupons.read(program, codes) if codes is not None else None
        part = run_local(program, history, on_error, tick, states, coupons)
    if part.failure is not None:
        raise SimulationFailed(*part.failure)
    return part


def summarise(program: Program, part: PartResult) -> dict[str, Any]:
    model = program.model
    point_value = model.redemption.point_value if model.redemption else 0
    tier_ids = tuple(t.id for t in model.tiers.levels) if model.tiers else ("none",)
    budgets = {c.id: c.budget_points for c in model.campaigns if c.budget_points is not None}
    doc = report(part.stats, point_value=point_value, tier_ids=tier_ids,  # type: ignore[arg-type]
                 budgets=budgets, campaign_budget_used=part.budget_used,
                 program={"program": program.program, "version": program.version,
                          "digest": program.digest, "source": source_of(program)},
                 campaigns=tuple(c.id for c in model.campaigns),
                 milestones=tuple(m.id for m in model.engagement.milestones))
    balances = sum(o[2] for o in part.outcomes.values())
    doc["totals"]["sum_of_member_balances"] = balances
    doc["totals"]["books_balance"] = balances == doc["totals"]["points_outstanding"]
    # Below zero only under refund_policy clawback: points a refund took back that were
    # spent, still to be repaid by later earnings (a member in debt holds no points).
    owing = [-o[2] for o in part.outcomes.values() if o[2] < 0]
    doc["totals"]["points_owed"] = sum(owing)
    doc["totals"]["members_owing"] = len(owing)
    return doc


def simulate(ruleset: str | Path | Program | Mapping[str, str], history: str | Path, *,
             compare_with: str | Path | Program | Mapping[str, str] | None = None,
             workers: int = 1, on_error: str = "skip",
             tick: Callable[[int], None] | None = None,
             member_states: str | Path | None = None,
             codes: str | Path | None = None, cluster: str | None = None) -> dict[str, Any]:
    """The simulation report of `ruleset` over `history` (with `compare` when asked).
    With `member_states`, every member's final state is written there as JSON lines
    (sorted by member id; see `engine.lifecycle.book.snapshot`). The cyclic garbage
    collector stays off until the report is made (engine/simulation/partition.py)."""
    with few_collections():
        return _simulate(ruleset, history, compare_with, workers, on_error, tick,
                         member_states, codes, cluster)


def _simulate(ruleset: str | Path | Program | Mapping[str, str], history: str | Path,
              compare_with: str | Path | Program | Mapping[str, str] | None, workers: int,
              on_error: str, tick: Callable[[int], None] | None,
              member_states: str | Path | None, codes: str | Path | None,
              cluster: str | None) -> dict[str, Any]:
    program = _program(ruleset)
    part = run(program, history, workers=workers, on_error=on_error, tick=tick,
               states=member_states is not None, codes=codes, cluster=cluster)
    if member_states is not None:
        with open(member_states, "w", encoding="utf-8", newline="\n") as out:
            out.writelines(line + "\n" for line in part.states or ())
    doc = summarise(program, part)
    if compare_with is not None:
        other = _program(compare_with)
        other_part = run(other, history, workers=workers, on_error=on_error, tick=tick,
                         codes=codes, cluster=cluster)
        other_doc = summarise(other, other_part)
        doc["compare"] = compare_block(program, other, doc, other_doc, part.outcomes,
                                       other_part.outcomes)
    return doc


def compare_block(program: Program, other: Program, doc: dict[str, Any],
                  other_doc: dict[str, Any], outcomes: dict[str, Outcome],
                  other_outcomes: dict[str, Outcome]) -> dict[str, Any]:
    """The `compare` block of a report: `other_doc` with its delta against `doc`, where
    each rule and campaign is, and the members that changed most."""
    base_label, other_label = labels(doc["program"], other_doc["program"])
    versions = {"labels": {"base": base_label, "compare": other_label},
                **presence(program, other, doc, other_doc)}
    return {**other_doc, "delta": delta(doc, other_doc), "versions": versions,
            "members_changed": changed_members(
                outcomes, other_outcomes,
                tier_order=tuple(t.id for t in program.model.tiers.levels)
                if program.model.tiers else ())}


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            from decimal import Decimal
            return Decimal(value)
        except ArithmeticError:
            return None
    return None


def _diff(a: Any, b: Any) -> Any:
    """b - a, for numbers, decimal strings and dicts of them (keys of either side)."""
    if isinstance(a, dict) or isinstance(b, dict):
        a, b = a or {}, b or {}
        out = {}
        for key in sorted(set(a) | set(b)):
            d = _diff(a.get(key, 0 if not isinstance(b.get(key), dict) else {}),
                      b.get(key, 0 if not isinstance(a.get(key), dict) else {}))
            if d is not None:
                out[key] = d
        return out
    x, y = _number(a if a is not None else 0), _number(b if b is not None else 0)
    if x is None or y is None:
        return None
    d = y - x
    return d if isinstance(d, int) else str(d)


def delta(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Figures of `other` minus those of `base` (compare minus the simulated ruleset)."""
    keys = ("totals", "by_rule", "by_category", "campaigns", "caps", "redemptions",
            "engagement")
    out = {k: _diff(base.get(k), other.get(k)) for k in keys}
    out["tiers"] = {"end": _diff(base["tiers"]["end"], other["tiers"]["end"])}
    out["by_month"] = _diff(base["by_month"], other["by_month"])
    return out


def changed_members(base: dict[str, Outcome], other: dict[str, Outcome],
                    top: int = TOP_CHANGED, tier_order: tuple[str, ...] = ()
                    ) -> list[dict[str, Any]]:
    """Members whose tier or balance changed most between the versions: a tier change
    first (by how many levels), then the largest balance change, then net points."""
    rank = {t: i for i, t in enumerate(tier_order)}
    rows = []
    for member, a in base.items():
        b = other.get(member)
        if b is None or a == b:
            continue
        levels = abs(rank.get(b[3], 0) - rank.get(a[3], 0)) if a[3] != b[3] else 0
        net_a, net_b = a[0] - a[1], b[0] - b[1]
        rows.append(((-levels, -abs(b[2] - a[2]), -abs(net_b - net_a), member), a, b))
    rows.sort(key=lambda row: row[0])
    return [{"member_id": key[3], "points_net": a[0] - a[1], "compare_points_net": b[0] - b[1],
             "delta": (b[0] - b[1]) - (a[0] - a[1]), "balance": a[2], "compare_balance": b[2],
             "balance_delta": b[2] - a[2], "tier": a[3], "compare_tier": b[3]}
            for key, a, b in rows[:top]]
