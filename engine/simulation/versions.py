"""Two versions side by side: how each is named, and which rules and campaigns each has.

A compare report shows every rule and campaign of either version, so a campaign added by
the new version, or a rule it removed, is a row of its own, labelled with the version it
belongs to. Which rules a version has comes from the ruleset itself (the rule ids of
`engine.language.diff.rules_of`, the ones `loyalty diff` uses), not from what happened to
fire in the history: a rule of both versions that earned nothing in one is still "both".

The two versions are named by program and version ("retail v1", "retail v2"); when those
are the same (two copies of one version, edited), the name adds where each was loaded from
or, when that does not tell them apart, the start of its digest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.language.diff import rules_of
from engine.program import Program

BOTH, BASE, COMPARE = "both", "base", "compare"
# Rule ids (and their prefixes) that can credit points: what the "points by rule" table lists.
POINT_RULES = ("earning.base", "earning.categories.", "earning.activities.",
               "seasonal_categories.", "campaigns.", "rules.")
DIGEST_PREFIX = 12  # hex digits of the digest shown when version and path are the same


def source_of(program: Program) -> str | None:
    """The file or folder a program was loaded from, as it was named, when known."""
    files = [name for name in program.sources if Path(name).is_file()]
    if not files or len(files) != len(program.sources):
        return None
    return files[0] if len(files) == 1 else os.path.commonpath(files)


def point_rules(program: Program) -> set[str]:
    """The rule ids of a program that can credit points (tier levels included)."""
    levels = {f"tiers.{t.id}" for t in program.model.tiers.levels} if program.model.tiers else set()
    return {r for r in rules_of(program.data) if r in levels or r.startswith(POINT_RULES)}


def _owner(rule: str, rules: set[str]) -> bool:
    """Whether a rule id (or a part of one: `tiers.gold.upgrade_bonus`) is in `rules`."""
    return any(rule == r or rule.startswith(r + ".") for r in rules)


def where(in_base: bool, in_compare: bool) -> str:
    """"both", "base" (only in the simulated ruleset) or "compare" (only in the other)."""
    return BOTH if in_base == in_compare else (BASE if in_base else COMPARE)


def presence(base: Program, other: Program, base_doc: Mapping[str, Any],
             other_doc: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Every rule (that can credit points) and every campaign of either version, each
    with where it is: "both", "base" (only the simulated ruleset) or "compare"."""
    mine, theirs = point_rules(base), point_rules(other)
    rule_ids = mine | theirs | set(base_doc["by_rule"]) | set(other_doc["by_rule"])
    rules = {r: where(_owner(r, mine) or r in base_doc["by_rule"],
                       _owner(r, theirs) or r in other_doc["by_rule"])
             for r in sorted(rule_ids)}
    campaigns = {c: where(c in base_doc["campaigns"], c in other_doc["campaigns"])
                 for c in sorted(set(base_doc["campaigns"]) | set(other_doc["campaigns"]))}
    return {"rules": rules, "campaigns": campaigns}


def labels(base: Mapping[str, Any], other: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """Names of two `program` blocks of a report that tell them apart."""
    def name(p: Mapping[str, Any]) -> str:
        return f"{p['program']} v{p['version']}"

    if other is None:
        return name(base), None
    a, b = name(base), name(other)
    if a != b:
        return a, b
    if base.get("source") and other.get("source") and base["source"] != other["source"]:
        return f"{a} ({base['source']})", f"{b} ({other['source']})"
    if base["digest"] != other["digest"]:
        return (f"{a} ({base['digest'][:7 + DIGEST_PREFIX]})",
                f"{b} ({other['digest'][:7 + DIGEST_PREFIX]})")
    return a, f"{b} (compare)"


def where_text(where: str, names: Iterable[str | None]) -> str:
    """"both", or "only in <name of the version>"."""
    a, b = names
    return "both" if where == BOTH else f"only in {a if where == BASE else b}"
