"""Allocate 12 months of export: 10 markets (a weekly sailing each), 3 models, ~200k orders.

    python benchmarks/allocation_bench.py [--orders 200000] [--target 60]

Prints the machine, the time of the MIP alone (one solve at w_lp = target) and of the
whole `allocate` (the w_lp search with its planner runs). Target: MIP under 10 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.plan_bench import cpu_model, peak_mb

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.studies.allocation import allocate, inputs, solve

START = dt.date(2027, 1, 1)
MODELS = {"SEDAN": 22_000.0, "SUV": 27_000.0, "WAGON": 24_000.0}
EXPORT = [f"X{i}" for i in range(10)]


def bench_scenario() -> Scenario:
    """Two plants, four lines, three models, two parts, one domestic and 10 export markets."""

    def line(name: str, models: list[str], jph: float) -> dict[str, Any]:
        return {
            "name": name,
            "models": models,
            "jph": jph,
            "shifts": [{"from": START, "hours": 16}],
        }

    markets: list[dict[str, Any]] = [{"name": "CN", "lead_days": 5}]
    for i, name in enumerate(EXPORT):
        markets.append(
            {
                "name": name,
                "price": 38_000 + 2_000 * i,
                "logistics_cost": 1_500 + 300 * i,
                "tariff": 0.05 * (i % 4),
                "lanes": [
                    {
                        "name": f"lane-{name}",
                        "inland_days": 2,
                        "transit_days": 20 + 3 * i,
                        "last_mile_days": 4,
                        "capacity": 250 + 50 * (i % 3),
                        "sailings": [
                            {
                                "every": 7,
                                "from": START + dt.timedelta(days=3 + i % 7),
                                "to": "2028-12-31",
                            }
                        ],
                    }
                ],
                "gates": [{"model": "WAGON", "from": "2027-06-01"}] if i % 3 == 0 else [],
                **({"quota": {"max_per_month": 900}} if i % 4 == 1 else {}),
            }
        )
    return Scenario.model_validate(
        {
            "name": "bench-allocation",
            "start": START,
            "horizon_days": 730,
            "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat"]},
            "products": [
                {
                    "model": m,
                    "cost": c,
                    "variants": [
                        {"name": "Standard", "parts": {"pack": 1}},
                        {"name": "Max", "parts": {"pack": 1, "lidar": 1}},
                    ],
                }
                for m, c in MODELS.items()
            ],
            "plants": [
                {
                    "name": "p1",
                    "lines": [line("a", ["SEDAN", "SUV"], 8), line("b", ["SEDAN", "WAGON"], 6)],
                },
                {"name": "p2", "lines": [line("c", ["SUV"], 8), line("d", ["SUV", "WAGON"], 6)]},
            ],
            "parts": [
                {"name": "pack", "stock": 5_000, "supply": [{"from": START, "per_week": 21_000}]},
                {"name": "lidar", "stock": 1_000, "supply": [{"from": START, "per_week": 8_000}]},
            ],
            "markets": markets,
        }
    )


def bench_orders(n: int, seed: int = 7) -> pl.DataFrame:
    """n orders locked over the first 14 months, 10% export spread over the 10 markets."""
    rng = np.random.default_rng(seed)
    export = rng.random(n) < 0.10
    market = np.where(export, rng.choice(np.array(EXPORT), n), "CN")
    minutes = np.sort(rng.integers(0, 14 * 30 * 24 * 60, n))
    return pl.DataFrame(
        {
            "order_id": [f"o{i:07d}" for i in range(n)],
            "model": rng.choice(np.array(list(MODELS)), n, p=[0.4, 0.4, 0.2]),
            "variant": rng.choice(np.array(["Standard", "Max"]), n, p=[0.6, 0.4]),
            "market": market,
            "locked_at": pl.Series(
                (np.datetime64(START, "m") + minutes.astype("timedelta64[m]")).astype(
                    "datetime64[us]"
                )
            ).cast(pl.Datetime("us")),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--target", type=int, default=60, help="domestic P90 wait, days")
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {cpu_model()}, "
        f"python {platform.python_version()}, {__import__('os').cpu_count()} cores"
    )
    s = bench_scenario()
    book = validate_orders(bench_orders(args.orders), s)
    print(f"{len(book):,} orders, {book.table['market'].is_in(EXPORT).sum():,} export")
    t = time.perf_counter()
    inp = inputs(s, book)
    print(
        f"MIP data (capacity, book): {time.perf_counter() - t:.2f} s; "
        f"months {inp.months[inp.w0]}..{inp.months[-1]}"
    )
    t = time.perf_counter()
    sol = solve(inp, args.target)
    mip = time.perf_counter() - t
    verdict = "infeasible" if sol is None else f"margin {sol.margin:,.0f}"
    print(f"MIP alone (w_lp {args.target}): {mip:.2f} s, {verdict} (target < 10 s)")
    t = time.perf_counter()
    a = allocate(s, book, domestic_p90_days=args.target)
    whole = time.perf_counter() - t
    print(
        f"allocate with verification: {whole:.2f} s, {len(a.trials)} planner runs "
        f"(MIP {a.mip_seconds:.2f} s of it); margin {a.margin:,.0f}; domestic P90 "
        f"{a.domestic_p90} days (target {args.target}, met {a.met}); w_lp {a.w_lp}"
    )
    print(f"note: {a.note}")
    print(f"peak memory (process RSS): {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
