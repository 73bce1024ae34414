"""A ruleset at the validator's limit: 2,000 custom rules whose conditions are all
distinct and all true for one cart (`REQUEST`), on the retail program's other sections.

The rules cycle through five shapes, so the engine sees many fields, comparisons, a
line-level rule every fifth and alternatives (`any`): what one registered durable-rules
ruleset could hold is far below that, whatever the split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RULES = 2000


def _when(i: int) -> str:
    shape = i % 5
    if shape == 0:
        return f'{{field: order.total, gte: "{i}.{i % 100:02d}"}}'
    if shape == 1:
        return f'{{field: line.unit_price, gt: "{i}.5"}}'
    if shape == 2:
        return f"{{field: context.score, gte: {i}}}"
    if shape == 3:
        return f"{{field: member.attributes.level, between: [{i}, {5000 + i}]}}"
    return (f'{{any: [{{field: order.subtotal, lte: "{100000 + i}"}}, '
            f'{{field: context.flag, eq: "x{i}"}}]}}')


def bonus(i: int) -> int:
    return 1 + i % 3


def rules_yaml() -> str:
    out = ["rules:"]
    for i in range(RULES):
        out.append(f"  - {{id: r{i}, when: {_when(i)}, then: [{{bonus_points: {bonus(i)}}}]}}")
    return "\n".join(out) + "\n"


def sources(program: str = "retail", version: int = 1) -> dict[str, str]:
    """The ruleset's YAML files by name (retail's, without its campaigns and rules)."""
    out = {f.name: f.read_text() for f in sorted((ROOT / "rulesets" / "retail").glob("*.yaml"))
           if f.name not in ("campaigns.yaml", "rules.yaml")}
    out["program.yaml"] = out["program.yaml"].replace("program: retail", f"program: {program}") \
        .replace("version: 1", f"version: {version}")
    out["rules.yaml"] = rules_yaml()
    return out


def write(folder: Path, **kw: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in sources(**kw).items():
        (folder / name).write_text(text)
    return folder


REQUEST: dict[str, Any] = {
    "member": {"id": "M-BIG", "tier": "gold", "points_balance": 0,
               "attributes": {"level": 5000}},
    "order": {"id": "O-BIG", "placed_at": "2026-11-17T14:30:00-05:00", "currency": "USD",
              "channel": "web", "shipping": "0.00",
              "lines": [{"sku": "TV", "category": "electronics", "quantity": 1,
                         "unit_price": "3000.00"}]},
    "context": {"score": "1000000.5"},
}
EXPECTED_BONUS = sum(bonus(i) for i in range(RULES))


def rule_bonus(result: dict[str, Any]) -> dict[str, int]:
    """The points each custom rule gave in an evaluation result."""
    return {rule: points for rule, points in result["earn"]["by_rule"].items()
            if rule.startswith("rules.")}
