"""Semantic diff of two ruleset versions, by rule id.

Works on the loaded data of two programs (no SQL, no HTTP): every section is broken into
the rule ids used in traces and reports (`campaigns.double-points-weekend`,
`earning.categories.electronics`, `tiers.gold`, `redemption.catalog.REWARD-101`,
`seasonal_categories.<id>`, `rules.<id>`, …); each rule's settings are flattened to dotted
fields, and the diff lists rules added, removed and changed (field: old → new). Numbers
and decimal strings compare by value, so `2.0` and `"2.00"` are the same setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

HEADER = ("name", "description", "effective_from", "timezone", "currency", "rounding",
          "rounding_scope", "categories")


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass
class RuleDiff:
    rule: str
    status: str  # added | removed | changed
    changes: list[Change] = field(default_factory=list)


@dataclass
class Diff:
    program: str
    from_version: int
    to_version: int
    from_digest: str
    to_digest: str
    rules: list[RuleDiff]

    @property
    def identical(self) -> bool:
        return not self.rules

    def to_json(self) -> dict[str, Any]:
        def of(status: str) -> list[Any]:
            return [r for r in self.rules if r.status == status]

        return {
            "program": self.program,
            "from": {"version": self.from_version, "digest": self.from_digest},
            "to": {"version": self.to_version, "digest": self.to_digest},
            "identical": self.identical,
            "added": [{"rule": r.rule, "settings": {c.field: c.new for c in r.changes}}
                      for r in of("added")],
            "removed": [{"rule": r.rule, "settings": {c.field: c.old for c in r.changes}}
                        for r in of("removed")],
            "changed": [{"rule": r.rule, "changes": [
                {"field": c.field, "old": c.old, "new": c.new} for c in r.changes]}
                for r in of("changed")],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Diff:
        """The diff `to_json` described (e.g. as received over HTTP), to render as text."""
        rules = [RuleDiff(r["rule"], "added", [Change(f, None, v) for f, v in r["settings"].items()])
                 for r in data["added"]]
        rules += [RuleDiff(r["rule"], "removed",
                           [Change(f, v, None) for f, v in r["settings"].items()])
                  for r in data["removed"]]
        rules += [RuleDiff(r["rule"], "changed",
                           [Change(c["field"], c["old"], c["new"]) for c in r["changes"]])
                  for r in data["changed"]]
        return cls(data["program"], data["from"]["version"], data["to"]["version"],
                   data["from"]["digest"], data["to"]["digest"],
                   sorted(rules, key=lambda r: r.rule))

    def to_text(self) -> str:
        lines = [f"{self.program} {self.from_version} → {self.to_version}"]
        if self.identical:
            lines.append("  no rule changed")
        marks = {"added": "+", "removed": "-", "changed": "~"}
        for r in self.rules:
            if r.status == "changed":
                for c in r.changes:
                    lines.append(f"  ~ {r.rule}: {c.field} {_show(c.old)} → {_show(c.new)}")
            else:
                lines.append(f"  {marks[r.status]} {r.rule} ({r.status})")
        return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    return "(unset)" if value is None else str(value)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return _number(Decimal(str(value)))
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return str(value)


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    try:
        return isinstance(a, str) and isinstance(b, str) and Decimal(a) == Decimal(b)
    except (InvalidOperation, ValueError):
        return False


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings → {"dotted.field": scalar}; lists of scalars become sorted lists."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            return {prefix: sorted((_scalar(v) for v in value), key=str)}
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
        return out
    return {prefix: _scalar(value)}


def _by_id(items: Any, prefix: str) -> dict[str, Any]:
    out = {}
    for item in items or []:
        if isinstance(item, Mapping) and "id" in item:
            out[f"{prefix}.{item['id']}"] = {k: v for k, v in item.items() if k != "id"}
    return out


def rules_of(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every rule id of a ruleset with its flattened settings."""
    rules: dict[str, Any] = {"program": {k: data.get(k) for k in HEADER if data.get(k) is not None}}
    tiers = data.get("tiers") or {}
    if tiers:
        rules["tiers.window"] = tiers.get("window")
        rules["tiers.downgrade"] = tiers.get("downgrade")
        rules.update(_by_id(tiers.get("levels"), "tiers"))
    earning = data.get("earning") or {}
    if earning:
        rules["earning.base"] = earning.get("base_rate")
        for cat, mult in (earning.get("categories") or {}).items():
            rules[f"earning.categories.{cat}"] = mult
        exclusions = earning.get("exclusions") or {}
        for cat in exclusions.get("categories") or []:
            rules[f"earning.exclusions.{cat}"] = "excluded"
        for key in ("shipping", "tax"):
            if key in exclusions:
                rules[f"earning.exclusions.{key}"] = exclusions[key]
        for name, activity in (earning.get("activities") or {}).items():
            rules[f"earning.activities.{name}"] = activity
        if earning.get("cashback") is not None:
            rules["earning.cashback"] = earning["cashback"]
    rules.update(_by_id(data.get("seasonal_categories"), "seasonal_categories"))
    rules.update(_by_id(data.get("campaigns"), "campaigns"))
    redemption = data.get("redemption") or {}
    for key in ("rate", "min_points", "max_order_fraction", "expiry", "automatic"):
        if redemption.get(key) is not None:
            rules[f"redemption.{key}"] = redemption[key]
    rules.update(_by_id(redemption.get("catalog"), "redemption.catalog"))
    rules.update(_by_id(data.get("rules"), "rules"))
    rules["approvals"] = data.get("approvals")
    rules["invariants"] = data.get("invariants")
    return {rule: {name or "value": v for name, v in flatten(value).items()}
            for rule, value in rules.items() if value is not None}


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    return [Change(name, old.get(name), new.get(name)) for name in sorted(set(old) | set(new))
            if not _same(old.get(name), new.get(name))]


def diff_data(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[RuleDiff]:
    before, after = rules_of(old), rules_of(new)
    out = []
    for rule in sorted(set(before) | set(after)):
        if rule not in after:
            out.append(RuleDiff(rule, "removed", _field_changes(before[rule], {})))
        elif rule not in before:
            out.append(RuleDiff(rule, "added", _field_changes({}, after[rule])))
        else:
            changes = _field_changes(before[rule], after[rule])
            if changes:
                out.append(RuleDiff(rule, "changed", changes))
    return out


def diff(old: Any, new: Any) -> Diff:
    """Diff two loaded programs (anything with .program, .version, .digest, .data)."""
    return Diff(program=new.program, from_version=old.version, to_version=new.version,
                from_digest=old.digest, to_digest=new.digest, rules=diff_data(old.data, new.data))
