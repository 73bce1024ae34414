"""The explain trace: every rule considered, whether it fired, and why not.

The rule engine says which rules matched; the reasons a rule did not match come from
evaluating its condition tree in Python (engine/rules/conditions.py). Both read the same tree,
and a disagreement between them is reported in the trace (`engine_agrees: false`) rather
than hidden — the test suite asserts it never happens.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.evaluation.evaluator import Evaluation
from engine.rules.conditions import explain as why_not
from engine.rules.conditions import holds
from engine.rules.facts import line_fact


def _entry(rule: str, kind: str, fired: bool, reason: str | None = None, **extra: Any) -> dict:
    out: dict[str, Any] = {"rule": rule, "kind": kind, "fired": fired}
    if reason:
        out["reason"] = reason
    out.update(extra)
    return out


def _condition_entry(ev: Evaluation, rule: str, kind: str, by_rule: dict[str, int]) -> dict:
    cond = ev.program.compiled.conditions[rule]
    matched = rule in ev.fired
    agrees = holds(cond, ev.fact) == matched
    extra: dict[str, Any] = {} if agrees else {"engine_agrees": False}
    if not matched:
        return _entry(rule, kind, False, "; ".join(why_not(cond, ev.fact)) or "did not match",
                      **extra)
    if rule in ev.skipped:
        return _entry(rule, kind, False, ev.skipped[rule], **extra)
    points = by_rule.get(rule, 0)
    note = ev.skipped.get(rule + "#capped")
    return _entry(rule, kind, True, note, points=points, **extra)


def build_trace(ev: Evaluation, result: dict[str, Any]) -> list[dict[str, Any]]:
    model = ev.model
    earn = result["earn"]
    by_rule: dict[str, int] = earn["by_rule"]
    order = ev.req.order
    categories = {ln.category for ln in order.lines} if order else set()
    trace = [_entry("earning.base", "earning", bool(order and order.lines),
                    None if order and order.lines else "no order lines",
                    rate=f"{model.earning.base_rate.normalize():f}",
                    points=by_rule.get("earning.base", 0))]
    for cat in sorted(model.earning.categories):
        rule = f"earning.categories.{cat}"
        hit = cat in categories
        trace.append(_entry(rule, "earning", hit, None if hit else f"no line in category {cat!r}",
                            **({"points": by_rule.get(rule, 0)} if hit else {})))
    for cat in sorted(model.earning.excluded_categories):
        hit = cat in categories
        trace.append(_entry(f"earning.exclusions.{cat}", "earning", hit,
                            None if hit else f"no line in category {cat!r}"))
    if model.tiers:
        for tier in model.tiers.levels:
            mine = tier.id == ev.tier_id
            trace.append(_entry(f"tiers.{tier.id}", "tier", mine,
                                None if mine else f"member tier is {ev.tier_id!r}",
                                **({"multiplier": f"{tier.multiplier.normalize():f}",
                                    "points": by_rule.get(f"tiers.{tier.id}", 0)} if mine else {})))
    for rotation in model.rotations:
        entry = _condition_entry(ev, rotation.rule_id, "seasonal", by_rule)
        if entry["fired"] and not rotation.categories & categories:
            entry.update(fired=False, reason="no line in its categories "
                         + ", ".join(sorted(rotation.categories)))
        if rotation.rule_id in result["usage"]["caps_hit"]:
            entry["reason"] = "spending cap reached; spend past it earned the regular rate"
        trace.append(entry)
    advanced = {a["campaign"] for a in result["effects"] if a.get("type") == "tier_advance"}
    spend = sum((r.eligible for r in getattr(ev, "lines", [])), Decimal(0))
    for campaign in model.campaigns:
        entry = _condition_entry(ev, campaign.rule_id, f"campaign:{campaign.type}", by_rule)
        if entry["fired"] and campaign.type == "tier_challenge" and campaign.id not in advanced:
            reached = ev.state.challenge_spend.get(campaign.id, Decimal(0)) + spend
            entry.update(fired=False, reason=f"eligible; challenge spend {reached:.2f} of "
                                             f"{campaign.target_spend:.2f} so far")
        elif entry["fired"] and campaign.type == "referral":
            entry["reason"] = "running; applies to referral activities, not to orders"
        if entry["fired"] and campaign.categories and not campaign.categories & categories:
            entry.update(fired=False, reason="no line in its categories "
                         + ", ".join(sorted(campaign.categories)))
        trace.append(entry)
    for custom in model.rules:
        if custom.line_level and order is not None:
            hits = [i for i, fired in enumerate(ev.line_fired) if custom.rule_id in fired]
            reasons = [] if hits else [
                f"line {ln.index}: " + "; ".join(why_not(custom.when, line_fact(ev.fact, ln)))
                for ln in order.lines]
            trace.append(_entry(custom.rule_id, "rule", bool(hits),
                                " | ".join(reasons) or None if not hits else None,
                                **({"lines": hits} if hits else {})))
        else:
            trace.append(_condition_entry(ev, custom.rule_id, "rule", by_rule))
    redemption = result["redemption"]
    trace.append(_entry("redemption", "redemption", redemption["eligible"],
                        "; ".join(r["code"] for r in redemption["reasons"]) or None,
                        max_points=redemption["max_points"]))
    return trace
