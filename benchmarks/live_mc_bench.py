"""The live Monte Carlo of the demo book, step by step, as the forecast process runs it.

    python benchmarks/live_mc_bench.py [--futures 200] [--processes 2]

The demo scenario and book as of its morning (every order still to build), in memory:
plan, simulate (the pilot rounds and the futures), the windows told, the queue spread
for new orders. The futures run in `--processes` processes as the forecast process runs
them (PROMISELINE_FORECAST_PROCESSES, default 2; it runs at nice 10 beside the service).
Target (issue 18): the whole under 60 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_bench import cpu_model
from promiseline.core.futures.promises import QueueSpread, simulated_windows
from promiseline.core.futures.simulate import simulate
from promiseline.core.model.orders import order_book
from promiseline.core.planning.planner import plan
from promiseline.demo import demo_orders, demo_scenario
from promiseline.distributed import process_runner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--futures", type=int, default=200)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    s = demo_scenario()
    book = order_book(demo_orders(), s)
    runner, n = process_runner(args.processes), args.processes
    # warm the compiled kernels, here and in the helpers
    simulate(s, book.table.head(2000), futures=2 * n, seed=0, runner=runner, chunks=n)
    print(
        f"machine: {cpu_model()}; {book.table.height:,} orders, {args.futures} futures, "
        f"{n} process(es)"
    )
    steps: dict[str, float] = {}
    t = time.perf_counter()
    base = plan(s, book)
    steps["plan"] = time.perf_counter() - t
    t = time.perf_counter()
    sim = simulate(s, base, futures=args.futures, seed=1, runner=runner, chunks=n)
    steps["simulate"] = time.perf_counter() - t
    t = time.perf_counter()
    windows = simulated_windows(sim)
    steps["windows"] = time.perf_counter() - t
    t = time.perf_counter()
    QueueSpread.of(sim)
    steps["queue spread"] = time.perf_counter() - t
    print(", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
    print(f"total {sum(steps.values()):.1f} s; {windows.frame.height:,} windows")


if __name__ == "__main__":
    main()
