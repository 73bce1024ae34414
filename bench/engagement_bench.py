"""What the `engagement:` section costs a simulation: the shipped retail program replayed
over one generated history with its engagement section and without it, runs alternating,
in one process.

    python bench/engagement_bench.py                     # 100,000 events, 5,000 members
    python bench/engagement_bench.py --events 20000 --members 1000 --rounds 3

Prints the CPU time of each run and the ratio with / without (the median of the rounds):
milestones (one rule-engine decision per order), alerts (looked at on every step) and the
messages planned for every domain event a step produces. The ratio is what to compare
across machines; CPU seconds on a shared machine are not.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.program import load_program  # noqa: E402
from engine.simulation.simulate import simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = ROOT / "rulesets" / "retail"
    files = {f.name: f.read_text(encoding="utf-8") for f in sorted(folder.glob("*.yaml"))}
    with_section = load_program(files)
    without = load_program({k: v for k, v in files.items() if k != "engagement.yaml"})
    with tempfile.TemporaryDirectory() as tmp:
        history = str(Path(tmp) / "history.jsonl")
        subprocess.run([str(Path(sys.executable).with_name("loyalty")), "generate", "--members",
                        str(args.members), "--events", str(args.events), "--out", history],
                       check=True, cwd=ROOT, capture_output=True)
        times: dict[str, list[float]] = {"with": [], "without": []}
        docs = {}
        for _ in range(args.rounds):
            for name, program in (("without", without), ("with", with_section)):
                start = time.process_time()
                docs[name] = simulate(program, history)
                times[name].append(time.process_time() - start)
    block = docs["with"]["engagement"]
    print(f"events {args.events}, members {args.members}, rounds {args.rounds}")
    for name, runs in times.items():
        print(f"  {name:>7} engagement: CPU s " + ", ".join(f"{t:.2f}" for t in runs))
    ratio = statistics.median(times["with"]) / statistics.median(times["without"])
    print(f"  milestones reached {block['milestones_reached']}, messages {block['messages_sent']}")
    print(f"ratio with / without engagement (median CPU): {ratio:.3f}")


if __name__ == "__main__":
    main()
