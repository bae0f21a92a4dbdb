"""Make the demo's daily output history, src/promiseline/data/beijing-ev-output.csv
(date, line, built), the record `promiseline fit demo --output-history demo` reads.

What is public (shared/public-figures.md) is how many cars phase 1 delivered a quarter:
Q4 2024 69,697; Q1 2025 75,869; Q2 2025 81,302 (all SU7, all phase 1's line p1-final).
Deliveries stand for output here (the week or two between a car's build and its
delivery is ignored); the YU7's line starts on the launch day and has no record yet.

The history runs from 2024-10-01 to 2025-06-25, the day before the demo starts. Each
working day's planned output is the demo scenario's (p1-final's shifts before its start
and the 2025 spring festival are in beijing-ev.yaml for this); each day's share of it is
drawn from the model's own law (core/futures/lasting.py) with assumed parameters, LAW
and SLOWDOWNS below; then the days of each quarter are scaled alike so that the quarter
sums to its public figure (Q2 2025 to its share of planned output through June 25), no
day above its plan, and made whole vehicles by the planner's running-floor rule. So the
quarters are the public figures and the day-to-day pattern is the model's: what `fit`
then learns of the days says how it reads a record, not how phase 1 really ran.

    python scripts/demo_output_history.py           # write the file
    python scripts/demo_output_history.py --check   # exit 1 unless the file is what it makes
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import polars as pl

from promiseline.core.futures.lasting import lasting_uptime, spells
from promiseline.core.model.scenario import Share, Spread, Uptime
from promiseline.core.planning.capacity import planned_vehicles, whole
from promiseline.demo import demo_scenario

OUT = Path(__file__).resolve().parents[1] / "src" / "promiseline" / "data" / "beijing-ev-output.csv"
LINE = "p1-final"
FIRST, LAST = dt.date(2024, 10, 1), dt.date(2025, 6, 25)
FIGURES = {  # deliveries per calendar quarter (shared/public-figures.md)
    (2024, 4): 69_697,
    (2025, 1): 75_869,
    (2025, 2): 81_302,
}
SEED = 2025
LAW = Uptime(mean=0.96, sd=0.04, memory_days=5)  # the demo's uptime, with a week's memory
SLOWDOWNS = (1.5, Share(mean=0.25, sd=0.08), Spread(mean=20, sd=8))  # per year, depth, days


def quarter(d: dt.date) -> tuple[int, int]:
    return d.year, (d.month - 1) // 3 + 1


def history() -> pl.DataFrame:
    """The history, one row per working day of the line (planned output > 0)."""
    s = demo_scenario()
    names = [ln.name for _, ln in s.lines]
    span = (LAST - FIRST).days + 1
    dates = [FIRST + dt.timedelta(days=d) for d in range(span)]
    # the whole quarter's plan, for the share of Q2 2025 the history covers
    q_end = dt.date(2025, 6, 30)
    full = planned_vehicles(s, FIRST, (q_end - FIRST).days + 1)[names.index(LINE)]
    planned = full[:span]
    rng = np.random.default_rng(SEED)
    share = lasting_uptime(rng, LAW, span) * spells(rng, *SLOWDOWNS, span)
    built = planned * share
    keys = [quarter(d) for d in dates]
    for key, figure in FIGURES.items():
        days = np.array([k == key for k in keys])
        whole_quarter = np.array(
            [quarter(FIRST + dt.timedelta(days=d)) == key for d in range(len(full))]
        )
        target = figure * planned[days].sum() / full[whole_quarter].sum()
        built[days] = _scaled(built[days], planned[days], target)
    count = np.diff(whole(np.cumsum(built)), prepend=0)
    work = planned > 0
    return pl.DataFrame(
        {
            "date": [d for d, w in zip(dates, work, strict=True) if w],
            "line": LINE,
            "built": count[work].astype(np.int64),
        }
    )


def _scaled(built: np.ndarray, planned: np.ndarray, target: float) -> np.ndarray:
    """The days scaled alike to sum to `target`, none above its plan (what a capped day
    cannot take goes to the others, in proportion)."""
    out = built.copy()
    for _ in range(50):
        free = out < planned
        short = target - out.sum()
        if abs(short) < 1e-6 or not free.any():
            break
        out[free] *= 1 + short / out[free].sum()
        out = np.minimum(out, planned)
    return out


def main(argv: list[str]) -> int:
    text = history().write_csv()
    if "--check" in argv:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT}: {'as made' if same else 'differs from what the script makes'}")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
