"""Do Monte Carlo windows hold what they state? Orders whose delivery law is known are
given windows from n draws of it, and a delivery drawn from the same law is checked
against them: the honest windows (`honest_runs`, leave-one-out odds) beside the plain
shortest run holding 80 % of the draws (the odds its draws say). Also the time per order.

    python benchmarks/honest_windows.py [--orders 4000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from promiseline.core.futures.calibration import honest_runs, shortest_runs

DAYS = np.arange(-200, 200)
Law = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
LAWS: dict[str, Law] = {
    "normal sd 5": lambda r, s: r.normal(0, 5, s),
    "normal sd 20": lambda r, s: r.normal(0, 20, s),
    "lognormal": lambda r, s: r.lognormal(1.5, 0.8, s),
    "two humps": lambda r, s: np.where(r.random(s) < 0.5, r.normal(0, 2, s), r.normal(12, 4, s)),
    "narrow": lambda r, s: r.normal(0, 0.7, s),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=4000)
    orders = ap.parse_args().orders
    rng = np.random.default_rng(2)
    honest_runs(np.ones((1, 3)), np.arange(3), 0.8)  # compile
    print(f"{'law':13s} {'draws':>5s}  honest: held stated width  plain: held stated  us/order")
    for name, law in LAWS.items():
        for n in (20, 40, 200):
            x = np.clip(np.rint(law(rng, (orders, n))), -200, 199).astype(np.int64) + 200
            y = np.clip(np.rint(law(rng, (orders,))), -200, 199).astype(np.int64)
            counts = np.zeros((orders, len(DAYS)))
            np.add.at(counts, (np.repeat(np.arange(orders), n), x.ravel()), 1.0)
            t = time.perf_counter()
            lo, hi, odds = honest_runs(counts, DAYS, 0.8)
            us = (time.perf_counter() - t) * 1e6 / orders
            a, b, mass = shortest_runs(counts / n, DAYS, 0.8)
            held = np.mean((y >= DAYS[lo]) & (y <= DAYS[hi]))
            plain = np.mean((y >= DAYS[a]) & (y <= DAYS[b]))
            print(
                f"{name:13s} {n:5d}  {held:12.3f} {odds.mean():6.3f} {np.mean(hi - lo):5.1f}"
                f"  {plain:11.3f} {mass.mean():6.3f}  {us:8.1f}"
            )


if __name__ == "__main__":
    main()
