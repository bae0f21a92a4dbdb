"""A weekly backtest of the demo over a year: does a promise come true as often as it
says, and how long does finding out take?

    python benchmarks/backtest_bench.py [--futures 50] [--realities 1] [--every 7] [--span 365]

Target: under 10 minutes on 2 cores for one reality, weekly, over a year. Prints the wall
time and the calibration line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_bench import cpu_model
from promiseline import api
from promiseline.cli import calibration_line
from promiseline.demo import demo_orders, demo_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--futures", type=int, default=50)
    ap.add_argument("--realities", type=int, default=1)
    ap.add_argument("--every", type=int, default=7)
    ap.add_argument("--span", type=int, default=365)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores")
    t0 = time.perf_counter()
    bt = api.backtest(
        demo_scenario(),
        demo_orders(),
        draws=args.realities,
        futures=args.futures,
        every_days=args.every,
        span_days=args.span,
        seed=args.seed,
    ).to_json()
    wall = time.perf_counter() - t0
    print(
        f"{bt['replays']} replays x {len(bt['seeds'])} reality(ies), {args.futures} futures "
        f"each: {wall:.0f} s"
    )
    print(calibration_line(bt))
    print("per reality:", bt["per_reality"])
    for r in bt["by_weeks_ahead"]:
        if r["promises"]:
            print(
                f"  {r['weeks']:>6} weeks ahead: {r['promises']:>9,} promises, "
                f"{r['coverage_p10_p90']:.0%} inside, MAE {r['mean_abs_error_days']} d"
            )


if __name__ == "__main__":
    main()
