"""What a planner reads at a glance, as chart-ready tables: the dashboard's overview and
`promiseline report` draw these and compute nothing of their own.

Time axes end where the activity ends (the last build, or the last day a band of the
backlog holds more than 1 % of the plan's peak), not at the horizon. Each statistic is
named for what it is: the median and the P90 of the waits of a group's orders (not a
median of per-order P90s).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from promiseline.core.planning.plan import Plan
from promiseline.core.readout.export_outlook import by_sea, lane_use, yard_peaks
from promiseline.core.readout.summary import summary
from promiseline.core.readout.waits import wait_table

MARGIN_DAYS = 14  # shown after the activity ends, so the end is seen as an end
TAIL_SHARE = 0.01  # a backlog under this share of the plan's peak counts as none (in the
# Monte Carlo, new orders keep a steady few days of backlog: not the book's activity)


@dataclass(frozen=True)
class Overview:
    """The overview of one plan (and, when a Monte Carlo ran, its backlog bands)."""

    scenario: str
    start: dt.date
    end: dt.date  # the last day shown
    kpis: dict[str, Any]
    backlog: pl.DataFrame  # date, backlog[, backlog_p10, backlog_p50, backlog_p90]
    months: pl.DataFrame  # month, built, capacity, delivered
    waits: dict[str, pl.DataFrame]  # by model, variant, market: orders, median, p90, max
    binding: pl.DataFrame  # week, constraint, orders (by build week)
    utilization: pl.DataFrame  # line, week, built, capacity, use
    lanes: pl.DataFrame  # export by sea (empty without): lane, sailings, loaded, ...
    yard: pl.DataFrame  # per departure port: peak_date, peak_cars

    def to_json(self) -> dict[str, Any]:
        def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
            return frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d")).to_dicts()

        return {
            "scenario": self.scenario,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kpis": self.kpis,
            "backlog": rows(self.backlog),
            "months": rows(self.months),
            "waits": {k: rows(v) for k, v in self.waits.items()},
            "binding": rows(self.binding),
            "held": rows(self.held()),
            "utilization": rows(self.utilization),
            "lanes": rows(self.lanes),
            "yard": rows(self.yard),
        }

    def held(self) -> pl.DataFrame:
        """Orders held back per build week and kind of constraint (`line`, `part`, `mix`,
        `gate`, `sailing`, ...: the name before its colon), every week from the first to
        the last, a week without any as 0: what the charts draw (one line per constraint
        was 13 lines in repeated colours, and a week with none, a shutdown, was a line
        drawn across it)."""
        kinds = self.binding.group_by(
            "week", kind=pl.col("constraint").str.split(":").list.first()
        ).agg(pl.col("orders").sum())
        if not kinds.height:
            return kinds.sort("week", "kind")
        first, last = kinds["week"].min(), kinds["week"].max()
        assert isinstance(first, dt.date)
        assert isinstance(last, dt.date)
        weeks = pl.date_range(first, last, "1w", eager=True).alias("week")
        return (
            weeks.to_frame()
            .join(kinds.select("kind").unique(), how="cross")
            .join(kinds, on=["week", "kind"], how="left")
            .with_columns(pl.col("orders").fill_null(0))
            .sort("week", "kind")
        )

    def tables(self) -> dict[str, pl.DataFrame]:
        """Every table by name, for downloads."""
        return {
            "backlog": self.backlog,
            "months": self.months,
            **{f"waits_by_{k}": v for k, v in self.waits.items()},
            "binding": self.binding,
            "utilization": self.utilization,
            **({"lanes": self.lanes, "yard": self.yard} if self.lanes.height else {}),
        }


def overview(plan: Plan, bands: pl.DataFrame | None = None) -> Overview:
    """The overview of `plan`; `bands` are a Monte Carlo's per-day backlog P10/P50/P90
    (Simulation.bands()), drawn around the plan's own backlog."""
    t = plan.table
    start = plan.capacity.start
    planned = t.filter(pl.col("status") == "planned")
    line_days = plan.line_days()
    built_days = line_days.filter(pl.col("built") > 0)
    last_build = built_days["date"].max() if built_days.height else start
    backlog = plan.backlog()
    if bands is not None:
        keep = ["date", *(f"backlog_p{p}" for p in (10, 50, 90))]
        backlog = backlog.join(bands.select(keep), on="date", how="left")
    # a band's long thin tail (a few late orders in a few futures) is not activity
    floor = TAIL_SHARE * (backlog.select(pl.col("backlog").max()).item() or 0)
    busy = backlog.filter(pl.any_horizontal(pl.exclude("date").fill_null(0) > floor))
    last_busy = busy["date"].max() if busy.height else start
    assert isinstance(last_build, dt.date)
    assert isinstance(last_busy, dt.date)
    end = min(
        max(last_build, last_busy) + dt.timedelta(days=MARGIN_DAYS),
        start + dt.timedelta(days=plan.capacity.days - 1),
    )
    shown = pl.col("date") <= end
    week = pl.col("date").dt.truncate("1w").alias("week")
    month = pl.col("date").dt.truncate("1mo").alias("month")
    # months run to the last delivery: export cars arrive months after the last build
    last_delivery = planned["delivery_date"].max()
    months_end = max(end, last_delivery) if isinstance(last_delivery, dt.date) else end
    months = (
        line_days.filter(pl.col("date") <= months_end)
        .group_by(month)
        .agg(pl.col("built").sum(), pl.col("capacity").sum())
        .join(
            planned.group_by(pl.col("delivery_date").dt.truncate("1mo").alias("month")).agg(
                delivered=pl.len()
            ),
            on="month",
            how="full",
            coalesce=True,
        )
        .filter(pl.col("month") <= months_end)
        .fill_null(0)
        .sort("month")
    )
    utilization = (
        line_days.filter(shown)
        .group_by("line", week)
        .agg(pl.col("built").sum(), pl.col("capacity").sum())
        .with_columns(
            use=pl.when(pl.col("capacity") > 0).then(pl.col("built") / pl.col("capacity"))
        )
        .sort("line", "week")
    )
    binding = (
        planned.filter(pl.col("bound_by") != "")
        .group_by(pl.col("build_date").dt.truncate("1w").alias("week"), constraint="bound_by")
        .agg(orders=pl.len())
        .sort("week", "constraint")
    )
    waits = {
        "model": wait_table(planned, ["model"]),
        "variant": wait_table(planned, ["model", "variant"]),
        "market": wait_table(planned, ["market"]),
    }
    sm = summary(plan)
    kpis = {
        "as_of": sm["as_of"],
        "overdue": int(t["overdue"].sum()),
        "orders": sm["orders"],
        "first_delivery": sm["first_delivery"],
        "last_delivery": sm["last_delivery"],
        "backlog_peak": sm["backlog"]["peak"],
        "backlog_peak_date": sm["backlog"]["peak_date"],
        "lines": sm["lines"],
    }
    return Overview(
        plan.scenario.name,
        start,
        end,
        kpis,
        backlog.filter(shown),
        months,
        waits,
        binding,
        utilization,
        lane_use(plan) if by_sea(plan) else pl.DataFrame(),
        yard_peaks(plan) if by_sea(plan) else pl.DataFrame(),
    )
