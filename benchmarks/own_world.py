"""A world of our own for judging windows (issue 18): two lines (one with a lasting uptime
level), a scarce part with shortfalls, cancellations and a 42-week queue from a launch
surge; 35,251 orders.

    python benchmarks/own_world.py DIR
    promiseline backtest DIR/own.yaml DIR/orders.csv --realities 8 --every 2w \
        --span 12w --futures 40
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import polars as pl
import yaml

START = dt.date(2026, 3, 2)


def scenario() -> dict[str, object]:
    line = {"from": START, "hours": 16}
    return {
        "name": "own-long-queue",
        "start": START,
        "horizon_days": 640,
        "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat"]},
        "products": [
            {"model": "A", "variants": [{"name": "std"}, {"name": "long", "parts": {"pack": 1}}]},
            {"model": "B", "variants": [{"name": "std"}]},
        ],
        "plants": [
            {
                "name": "p",
                "lines": [
                    {"name": "la", "models": ["A"], "jph": 6, "shifts": [line]},
                    {"name": "lb", "models": ["A", "B"], "jph": 4, "shifts": [line]},
                ],
            }
        ],
        "parts": [{"name": "pack", "stock": 500, "supply": [{"from": START, "per_week": 280}]}],
        "markets": [{"name": "north", "lead_days": 4}, {"name": "south", "lead_days": 8}],
        "uncertainty": {
            "line_uptime": {
                "la": {"mean": 0.93, "sd": 0.06, "level_share": 0.2, "memory_days": 5},
                "lb": {"mean": 0.9, "sd": 0.08},
            },
            "shortfalls": [{"part": "pack", "per_month": 0.15, "depth": 0.4, "days": 10}],
            "cancellation": {"base_weekly": 0.001, "per_month_wait": 0.0008, "max_weekly": 0.02},
        },
    }


def orders(rng: np.random.Generator) -> pl.DataFrame:
    """About 280 working days of output: a third locked in the month before the start,
    half in the launch's first 18 hours, the rest over the next eight weeks."""
    per_day = (6 * 0.93 + 4 * 0.9) * 16
    n = int(per_day * 6 / 7 * 280)
    hours = np.sort(
        np.concatenate(
            [
                rng.integers(-30 * 24, 0, n // 3),
                rng.integers(0, 18, n // 2),
                rng.integers(18, 8 * 7 * 24, n - n // 3 - n // 2),
            ]
        )
    )
    model = rng.choice(["A", "B"], n, p=[0.7, 0.3])
    market = rng.choice(["north", "south"], n)
    variant = np.where(model == "A", rng.choice(["std", "long"], n), "std")
    at = dt.datetime.combine(START, dt.time(9))
    return pl.DataFrame(
        {
            "order_id": [f"o{i:06d}" for i in range(n)],
            "model": model.tolist(),
            "variant": variant.tolist(),
            "market": market.tolist(),
            "locked_at": [(at + dt.timedelta(hours=int(h))).isoformat() for h in hours],
        }
    )


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "own-world")
    out.mkdir(parents=True, exist_ok=True)
    (out / "own.yaml").write_text(yaml.safe_dump(scenario(), sort_keys=False))
    book = orders(np.random.default_rng(7))
    book.write_csv(out / "orders.csv")
    print(f"wrote {out / 'own.yaml'} and {out / 'orders.csv'} ({book.height:,} orders)")


if __name__ == "__main__":
    main()
