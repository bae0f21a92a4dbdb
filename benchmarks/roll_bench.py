"""Rolling the demo book forward, and the re-plan after it (issue 17's target: each under
3 s for the demo's 533k orders on the 2-core machine).

    python benchmarks/roll_bench.py [--to 2026-01-15] [--repeat 3]

Plans the demo as of its own morning, rolls the plan to the day (what is built before it
is history, the new frozen zone scheduled), then plans the rolled book; best of
`--repeat` for each, and checks that no order's line, build day, sailing or delivery
moved (with no news, a roll changes no promise).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import promiseline as p8  # noqa: E402

PROMISE = ["order_id", "line", "build_date", "sailing_id", "delivery_date"]


def best(repeat: int, fn, *args):  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--to", default="2026-01-15", help="the day to roll to")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    to = dt.date.fromisoformat(a.to)
    s = p8.demo_scenario()
    book = p8.load_orders(p8.demo_orders(), s)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    t_plan, plan = best(a.repeat, p8.plan, s, book)
    t_roll, rolled = best(a.repeat, p8.roll_plan, plan, to)
    t_replan, after = best(a.repeat, p8.plan, rolled.scenario, rolled.book)
    moved = (
        after.table.select(PROMISE)
        .join(plan.table.select(PROMISE), on="order_id", suffix="_before")
        .filter(pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_before")) for c in PROMISE[1:]))
        .height
    )
    counts = ", ".join(f"{n:,} {k}" for k, n in rolled.counts().items())
    print(f"{len(book):,} orders; rolled to {to}: {counts}")
    print(f"plan as of {s.now}:   {t_plan:.2f} s (best of {a.repeat})")
    print(f"roll to {to}:      {t_roll:.2f} s   (target < 3 s)")
    print(f"plan the rolled book: {t_replan:.2f} s   (target < 3 s)")
    print(f"promises moved by the roll: {moved:,} (expected 0)")


if __name__ == "__main__":
    main()
