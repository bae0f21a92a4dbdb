"""Monte Carlo at scale: 1,000 futures over 300,000 orders and two years of days.

    python benchmarks/simulate_bench.py [--futures 1000] [--orders 300000] [--workers 2]

Prints wall time, futures/s, order placements/s and peak memory, in one process and on a
Dask LocalCluster, and checks that both give the same answer. Target (issue 4): under
60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_bench import bench_orders, bench_scenario, cpu_model
from promiseline.core.futures.simulate import simulate
from promiseline.core.model.orders import validate_orders
from promiseline.distributed import dask_runner, local_client

UNCERTAINTY = {
    "uptime": {"mean": 0.93, "sd": 0.06},
    "ramp_slip": {"mean": 10, "sd": 7},
    "shortfalls": [{"part": "pack-l", "per_month": 0.15, "depth": 0.4, "days": 10}],
    "inflow": {"per_day": 300, "half_life_days": 120, "noise": 0.2},
    "cancellation": {},
}


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--futures", type=int, default=1000)
    ap.add_argument("--orders", type=int, default=300_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-single", action="store_true")
    args = ap.parse_args()
    s = bench_scenario().replace(uncertainty=UNCERTAINTY)
    book = validate_orders(bench_orders(args.orders), s)
    print(
        f"machine: {cpu_model()}; {len(book):,} orders, {s.horizon_days} days, "
        f"{args.futures:,} futures"
    )
    simulate(s, book, futures=2, seed=0)  # warm the compiled kernels
    results = {}
    if not args.skip_single:
        t = time.perf_counter()
        one = simulate(s, book, futures=args.futures, seed=42)
        wall = time.perf_counter() - t
        results["one"] = one
        placed = (len(book) * args.futures + int(one.totals.inflow.sum())) / wall
        print(
            f"one process: {wall:.1f} s, {args.futures / wall:.1f} futures/s, "
            f"{placed / 1e6:.1f} M order placements/s, peak RSS {peak_mb():,.0f} MB"
        )
    with local_client(args.workers) as client:
        runner = dask_runner(client)
        simulate(s, book, futures=args.workers, seed=0, runner=runner, chunks=args.workers)
        t = time.perf_counter()
        many = simulate(s, book, futures=args.futures, seed=42, runner=runner, chunks=args.workers)
        wall = time.perf_counter() - t
        placed = (len(book) * args.futures + int(many.totals.inflow.sum())) / wall
        print(
            f"Dask LocalCluster, {args.workers} workers: {wall:.1f} s, "
            f"{args.futures / wall:.1f} futures/s, {placed / 1e6:.1f} M order placements/s"
        )
    if "one" in results:
        same = all(
            np.array_equal(getattr(results["one"].totals, n), getattr(many.totals, n))
            for n in ("hist", "cancelled", "refunded", "backlog", "deliveries", "bound")
        )
        print(f"same answer in both runs: {same}")
    print(f"new orders drawn per future: {many.totals.inflow.mean():,.0f} on average")
    sm = many.summary()
    print(
        "median P90 wait by variant:",
        ", ".join(
            f"{r['model']} {r['variant']} {r['median_of_p90_wait']:.0f} d" for r in sm["by_variant"]
        ),
    )


if __name__ == "__main__":
    main()
