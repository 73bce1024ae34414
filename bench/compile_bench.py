"""Compile benchmark: a 1,000-rule ruleset loads, validates and compiles (target: ≤ 1 s).

    python bench/compile_bench.py [--rules 1000]

Writes a ruleset with the retail program's sections plus N custom rules and campaigns
(mixed operators, half of them per-line) to a temporary folder, then times each stage.
The baseline printed beside it is PyYAML's own C safe loader on the same text, measured
in the same run, so the ratio says how much our position-keeping loader costs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.language.loader import load_path
from engine.language.validate import validate
from engine.program import Program

RETAIL = Path(__file__).resolve().parents[1] / "rulesets" / "retail"


def big_ruleset(n: int) -> str:
    parts = ["rules:"]
    for i in range(n // 2):
        line = i % 2 == 0
        field = "line.unit_price" if line else "order.total"
        parts.append(f"""  - id: rule-{i}
    when:
      all:
        - {{field: {field}, gte: "{10 + i % 90}.00"}}
        - any:
            - {{field: member.tier, in: [gold, platinum]}}
            - {{field: member.attributes.segments, contains: seg-{i % 7}}}
        - not: {{field: order.channel, eq: kiosk-{i % 5}}}
    then:
      - bonus_points: {1 + i % 50}
      - tag: t{i % 11}""")
    parts.append("campaigns:")
    for i in range(n - n // 2):
        parts.append(f"""  - id: campaign-{i}
    type: {"multiplier" if i % 2 else "fixed_bonus"}
    {"multiplier: 1.5" if i % 2 else "points: 25"}
    schedule: {{from: "2026-{1 + i % 12:02d}-01", to: "2026-{1 + i % 12:02d}-28"}}
    eligibility: {{tiers: [silver, gold], channels: [web, app], min_order: "{i % 100}.00"}}""")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "big"
        folder.mkdir()
        for f in RETAIL.glob("*.yaml"):
            if f.name not in ("rules.yaml", "campaigns.yaml"):
                (folder / f.name).write_text(f.read_text())
        text = big_ruleset(args.rules)
        (folder / "rules.yaml").write_text(text)
        t0 = time.perf_counter()
        yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        t1 = time.perf_counter()
        loaded = load_path(folder)
        t2 = time.perf_counter()
        errors = validate(loaded)
        t3 = time.perf_counter()
        if errors:
            sys.exit("\n".join(map(str, errors[:10])))
        program = Program.from_data(loaded.data, loaded.sources)
        t4 = time.perf_counter()
    rules = len(program.compiled.order.rules) + len(program.compiled.line.rules)
    print(f"ruleset: {rules} compiled rules ({args.rules} declared), {len(text) // 1024} KiB")
    print(f"baseline PyYAML CSafeLoader: {(t1 - t0) * 1000:8.1f} ms")
    print(f"load (positions kept):       {(t2 - t1) * 1000:8.1f} ms  ({(t2 - t1) / (t1 - t0):.2f}× baseline)")
    print(f"validate:                    {(t3 - t2) * 1000:8.1f} ms")
    print(f"compile + register:          {(t4 - t3) * 1000:8.1f} ms")
    print(f"total load+validate+compile: {(t4 - t1) * 1000:8.1f} ms  (target ≤ 1000 ms)")


if __name__ == "__main__":
    main()
