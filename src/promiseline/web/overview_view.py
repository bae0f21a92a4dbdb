"""The overview as the dashboard and report.html show it, beyond the core's tables: the
line utilization heatmap's cells. No FastAPI here: `promiseline report` renders it too."""

from __future__ import annotations

import datetime as dt
from typing import Any

from promiseline.core.readout.overview import Overview


def heatmap(ov: Overview) -> dict[str, Any]:
    """The utilization table as cells a planner reads: a percentage in each, shaded from
    white (idle) to blue (full), weeks as columns, the plan's day's week marked."""
    u = ov.utilization
    weeks = sorted(set(u["week"].to_list()))
    by = {(r["line"], r["week"]): r for r in u.iter_rows(named=True)}
    rows = []
    for line in sorted(set(u["line"].to_list())):
        cells = []
        for w in weeks:
            r = by.get((line, w))
            if r is None or r["use"] is None:
                cells.append({"text": "", "shade": "none", "title": f"{line} {w}: no capacity"})
            else:
                use = r["use"]
                cells.append(
                    {
                        "text": f"{use:.0%}",
                        # a class per tenth (app.css): no style attribute, which the
                        # pages' Content-Security-Policy does not run
                        "shade": str(round(10 * min(max(use, 0.0), 1.0))),
                        "title": f"{line}, week of {w}: {r['built']:,} built of {r['capacity']:,}",
                    }
                )
        rows.append((line, cells))
    return {
        "weeks": [w.strftime("%y-%m-%d") for w in weeks],
        "rows": rows,
        "as_of": as_of_week(weeks, dt.date.fromisoformat(ov.kpis["as_of"])),
    }


def as_of_week(weeks: list[dt.date], day: dt.date) -> int | None:
    """The column of the week the plan's day falls in (weeks start on Monday), where the
    table marks it; None when it shows no such week."""
    monday = day - dt.timedelta(days=day.weekday())
    return weeks.index(monday) if monday in weeks else None
