"""In-process evaluation benchmark: our evaluator vs a GoRules zen-engine decision graph.

    python bench/eval_bench.py [--carts 10000] [--seed 7] [--no-cache]

Both engines compute the same decisions: per-line eligible amounts, multipliers and
points, the order total floored once, points by rule (base, tier, category, campaign),
benefits (free shipping, birthday discount), progress to the next tier, and redemption
eligibility with its reasons (minimum, balance, share of the order, a gift-card denial).

Evaluates the same 10,000 five-line carts (mixed categories, tiers, channels and dates
over 2026, so weekends and fashion week occur) against rulesets/retail with both engines,
alternating in blocks of 250 carts so machine noise hits both alike, checks that both give the same
points for every cart, and prints p50/p99 in µs and the ratio ours/zen. Targets: p50 ≤ 60 µs
and ≤ 0.40 × zen-engine. `--no-cache` disables the decision cache to show what the rule
engine costs on every request. The load average and a machine baseline (bench/machine.py)
are printed at the start and the end of the run, and our p50 in multiples of that baseline.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import machine
from bench.zen_peer import load as load_zen
from engine import evaluate, load_program

CATEGORIES = ["electronics", "fashion", "home", "grocery", "gift_cards", "books", "toys"]
TIERS = ["bronze", "silver", "gold", "platinum"]
NY = ZoneInfo("America/New_York")
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def carts(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        if i % 10 == 0:  # make sure fashion week is well represented
            month, day = 9, rng.randint(12, 22)
        out.append({
            "member": {"id": f"M{i % 5000}", "tier": rng.choice(TIERS),
                       "points_balance": rng.randint(0, 20000),
                       "attributes": {"segments": rng.choice([[], ["vip"]]),
                                      "birthday": f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-15"},
                       "state": {"qualifying": {"spend": f"{rng.randint(0, 6000)}.00",
                                                "orders": rng.randint(0, 60)}}},
            "redeem": {"points": rng.choice([0, 500, 1000, 2500]) or 100},
            "order": {"id": f"O{i}", "placed_at":
                      f"2026-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00-05:00",
                      "channel": rng.choice(["web", "app", "store"]), "currency": "USD",
                      "shipping": rng.choice(["0.00", "4.99", "9.99"]),
                      "lines": [{"sku": f"SKU-{rng.randint(1, 999)}", "category": rng.choice(CATEGORIES),
                                 "quantity": rng.randint(1, 3),
                                 "unit_price": f"{rng.randint(99, 49999) / 100:.2f}",
                                 "discount": rng.choice(["0.00", "0.00", "1.00"])}
                                for _ in range(5)]},
        })
    return out


def zen_input(request: dict) -> dict:
    order = request["order"]
    local = datetime.fromisoformat(order["placed_at"]).astimezone(NY)
    lines = [{"category": ln["category"],
              "amount": float(ln["quantity"] * Decimal(ln["unit_price"]) - Decimal(ln["discount"]))}
             for ln in order["lines"]]
    member = request["member"]
    birthday = member.get("attributes", {}).get("birthday")
    state = member.get("state", {}).get("qualifying", {})
    return {"tier": member["tier"], "weekday": WEEKDAYS[local.weekday()],
            "dom": local.day, "date": local.date().isoformat(), "month": local.month,
            "birthMonth": int(birthday[5:7]) if birthday else 0,
            "qualSpend": float(state.get("spend", 0)), "qualOrders": state.get("orders", 0),
            "total": sum(ln["amount"] for ln in lines) + float(order["shipping"]),
            "balance": member["points_balance"],
            "redeemPoints": request.get("redeem", {}).get("points", 0), "lines": lines}


def pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--block", type=int, default=250,
                        help="carts per engine before switching to the other (1 = interleave)")
    args = parser.parse_args()

    base_start = machine.report("start")
    program = load_program(Path(__file__).resolve().parents[1] / "rulesets" / "retail")
    if args.no_cache:
        program.compiled.order.use_cache = program.compiled.line.use_cache = False
    zen = load_zen()
    work = carts(args.carts, args.seed)
    for request in work[:300]:  # warm-up: imports, caches, allocator
        evaluate(program, request)
        zen.evaluate(zen_input(request))

    ours, peer, peer_with_prep, mismatches = [], [], [], 0
    clock = time.perf_counter_ns
    # Alternate in blocks: noise over time hits both engines alike, while neither evicts
    # the other's working set from the CPU caches on every call (both run slower when
    # interleaved call by call; `--block 1` shows it).
    for start in range(0, len(work), args.block):
        block = work[start:start + args.block]
        points = []
        for request in block:
            t0 = clock()
            result = evaluate(program, request)
            ours.append(clock() - t0)
            points.append(result["earn"]["points"])
        for request, ours_points in zip(block, points):
            t1 = clock()
            prepared = zen_input(request)
            t2 = clock()
            answer = zen.evaluate(prepared)
            t3 = clock()
            peer.append(t3 - t2)
            peer_with_prep.append(t3 - t1)
            if answer["result"]["points"] != ours_points:
                mismatches += 1
    ours.sort(), peer.sort(), peer_with_prep.sort()
    print(f"carts: {len(work)} × 5 lines, rulesets/retail, decision cache "
          f"{'off' if args.no_cache else 'on'}, blocks of {args.block}")
    print(f"{'engine':<28}{'p50 µs':>10}{'p99 µs':>10}")
    print(f"{'ours (evaluate)':<28}{pct(ours, .5):>10.1f}{pct(ours, .99):>10.1f}")
    print(f"{'zen-engine (evaluate)':<28}{pct(peer, .5):>10.1f}{pct(peer, .99):>10.1f}")
    print(f"{'zen-engine (+ input prep)':<28}{pct(peer_with_prep, .5):>10.1f}"
          f"{pct(peer_with_prep, .99):>10.1f}")
    print(f"ratio p50 ours/zen: {pct(ours, .5) / pct(peer, .5):.2f}  (target ≤ 0.40; "
          f"p50 target ≤ 60 µs)")
    print(f"points mismatches between the engines: {mismatches}")
    base_end = machine.report("end")
    print(f"ours p50 / machine baseline: {pct(ours, .5) / ((base_start + base_end) / 2):.1f}")


if __name__ == "__main__":
    main()
