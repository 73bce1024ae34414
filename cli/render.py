"""Readable text output (rich tables) for evaluation results and traces."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True, width=120)


def render_result(result: dict[str, Any]) -> None:
    console = _console()
    member, earn = result["member"], result["earn"]
    console.print(f"[bold]{result['program']}[/] v{result['ruleset_version']}  "
                  f"({result['ruleset_digest'][:19]}…)")
    tier = member["tier"] if member["tier_after"] == member["tier"] else \
        f"{member['tier']} → {member['tier_after']}"
    console.print(f"member {member['id']}  tier {tier}  balance {member['points_balance']}"
                  f" → {member['projected_balance']}")
    lines = Table(title=f"Earned: {earn['points']} points", title_justify="left")
    for col in ("#", "sku", "category", "eligible", "×category", "×tier", "×campaigns", "points"):
        lines.add_column(col, justify="right" if col in ("#", "eligible", "points") else "left")
    for line in earn["lines"]:
        cat = line.get("category_multiplier", {})
        campaigns = ", ".join(f"{m['rule'].split('.', 1)[1]} ×{m['value']}"
                              for m in line["multipliers"])
        lines.add_row(str(line["index"]), line["sku"], line["category"], line["eligible_amount"],
                      f"{cat.get('value', '-')} ({cat.get('rule', line.get('excluded_by', '-'))})",
                      line.get("tier_multiplier", {}).get("value", "-"), campaigns or "-",
                      str(line["points"]))
    console.print(lines)
    for bonus in earn["bonuses"]:
        console.print(f"  + {bonus['points']} bonus ({bonus['rule']})")
    for activity in result["activities"]:
        console.print(f"  + {activity['points']} {activity['activity']} (apart from earn)")
    if result["upgrade"]:
        up = result["upgrade"]
        console.print(f"  tier upgrade {up['from']} → {up['to']}: +{up['bonus_points']} points")
    if earn.get("cashback", "0.00") != "0.00":
        console.print(f"  cashback {earn['cashback']}")
    benefits = result["benefits"]
    console.print(f"free shipping: {'yes' if benefits['free_shipping'] else 'no'}"
                  + (f"; birthday discount {benefits['birthday_discount_percent']} %"
                     if benefits.get("birthday_discount_percent") else ""))
    red = result["redemption"]
    status = "[green]eligible[/]" if red["eligible"] else "[red]not eligible[/]"
    console.print(f"redemption: {status}; up to {red['max_points']} points ({red['max_value']})")
    for reason in red["reasons"]:
        console.print(f"  - {reason['code']}: {reason['message']}")


def render_trace(result: dict[str, Any]) -> None:
    table = Table(title="Rules considered", title_justify="left")
    table.add_column("rule")
    table.add_column("fired")
    table.add_column("points", justify="right")
    table.add_column("why / why not")
    for entry in result.get("trace", []):
        fired = ("yes" if entry.get("applied", True) else "yes, not applied") \
            if entry["fired"] else "no"
        table.add_row(entry["rule"], fired,
                      str(entry.get("points", "")), entry.get("reason", ""))
    _console().print(table)
