"""What export looks like in a plan: deliveries per market and month, how full the
sailings go, cars waiting at the ports, and the waits at home and abroad."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from promiseline.core.planning.plan import Plan
from promiseline.core.readout.waits import wait_stats


def by_sea(plan: Plan) -> bool:
    return bool(plan.capacity.sea.lane_names)


def home_markets(plan: Plan) -> list[str]:
    return [m.name for m in plan.scenario.markets if not m.export]


def deliveries_by_month(plan: Plan) -> pl.DataFrame:
    """Planned deliveries per market and calendar month (month as YYYY-MM)."""
    return (
        plan.planned.group_by("market", pl.col("delivery_date").dt.strftime("%Y-%m").alias("month"))
        .len("cars")
        .sort("market", "month")
    )


def lane_use(plan: Plan) -> pl.DataFrame:
    """Per lane: sailings, seats, cars loaded and the share used, over the sailings that
    carry anything up to the last one that does (so an idle tail does not dilute it)."""
    sail = plan.sailings()
    last = sail.filter(pl.col("loaded") > 0).group_by("lane").agg(pl.col("departure_date").max())
    return (
        sail.join(last, on="lane", how="left", suffix="_last")
        .filter(pl.col("departure_date") <= pl.col("departure_date_last"))
        .group_by("lane", maintain_order=True)
        .agg(
            pl.len().alias("sailings"),
            pl.col("departure_date").min().alias("first"),
            pl.col("departure_date").max().alias("last"),
            pl.col("capacity").sum(),
            pl.col("loaded").sum(),
            (pl.col("loaded") >= pl.col("capacity")).sum().alias("full"),
        )
        .with_columns((pl.col("loaded") / pl.col("capacity")).fill_nan(0.0).alias("utilization"))
    )


def yard_peaks(plan: Plan) -> pl.DataFrame:
    """Per departure port: the most cars waiting on one day, and that day."""
    return (
        plan.yard()
        .sort("cars", "date", descending=[True, False])
        .group_by("port", maintain_order=True)
        .first()
        .rename({"cars": "peak_cars", "date": "peak_date"})
        .sort("port")
    )


def export_summary(plan: Plan) -> dict[str, Any]:
    """The export part of the plan summary (empty when no market is reached by sea)."""
    if not by_sea(plan):
        return {}
    planned = plan.planned
    home = home_markets(plan)
    unshipped = plan.table.filter(pl.col("reason").str.starts_with("no sailing"))

    def rows(df: pl.DataFrame) -> list[dict[str, Any]]:
        return [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in df.to_dicts()
        ]

    return {
        "home": home,
        "waits_home": wait_stats(
            planned.filter(pl.col("market").is_in(home)).with_columns(
                pl.lit("home").alias("where")
            ),
            ["where"],
        ),
        "waits_by_market": wait_stats(planned, ["market"]),
        "no_sailing": unshipped.height,
        "deliveries_by_month": rows(deliveries_by_month(plan)),
        "lanes": rows(lane_use(plan)),
        "yard_peaks": rows(yard_peaks(plan)),
    }


def outlook(
    plan: Plan, first_export_lock: dt.datetime | None, first_sailing: dt.date | None = None
) -> dict[str, Any]:
    """One line of export figures: waits at home (all, of the orders locked since the
    first export order, the ones export can delay, and of those built before the first
    export car sails) and abroad, the last export delivery, the fullest day at the ports,
    the median days a car waits there (build to departure) and orders left without a
    sailing."""
    planned = plan.planned
    home = planned.filter(pl.col("market").is_in(home_markets(plan)))
    abroad = planned.filter(~pl.col("market").is_in(home_markets(plan)))
    since = home.filter(pl.col("locked_at") >= pl.lit(first_export_lock or dt.datetime.max))
    yard = plan.yard()["cars"].to_numpy() if by_sea(plan) else np.zeros(1, np.int64)
    before = home.filter(pl.col("build_date") < pl.lit(first_sailing or dt.date.max))
    at_port = abroad.select((pl.col("departure_date") - pl.col("build_date")).dt.total_days())

    def q(df: pl.DataFrame, p: float) -> float | None:
        v = df["wait_days"].quantile(p, "linear") if df.height else None
        return None if v is None else float(v)

    return {
        "home_median_wait": q(home, 0.5),
        "home_p90_wait": q(home, 0.9),
        "home_since_median_wait": q(since, 0.5),
        "home_since_p90_wait": q(since, 0.9),
        "export_orders": abroad.height,
        "export_median_wait": q(abroad, 0.5),
        "export_p90_wait": q(abroad, 0.9),
        "last_export_delivery": abroad["delivery_date"].max(),
        "yard_peak": int(yard.max(initial=0)),
        "port_median_days": (
            float(at_port.to_series().median()) if abroad.height else None  # type: ignore[arg-type]
        ),
        "home_before_sailing_median_wait": q(before, 0.5),
        "home_before_sailing_p90_wait": q(before, 0.9),
        "no_sailing": int(plan.table["reason"].str.starts_with("no sailing").sum()),
    }


def outlooks(plans: list[tuple[str, Plan]]) -> pl.DataFrame:
    """`outlook` of each named plan, one row each (the base, without export, what-ifs);
    "since" counts from the first export order's lock in the first plan, "before the
    first sailing" up to its first export departure."""
    first = plans[0][1].table.filter(~pl.col("market").is_in(home_markets(plans[0][1])))
    since = first["locked_at"].min() if first.height else None
    sails = first["departure_date"].min() if first.height else None
    assert since is None or isinstance(since, dt.datetime)
    assert sails is None or isinstance(sails, dt.date)
    day = since.date() if since else None
    return pl.DataFrame(
        [
            {"scenario": name, "since": day, "first_sailing": sails} | outlook(p, since, sails)
            for name, p in plans
        ]
    )


def home_only(book: pl.DataFrame, plan: Plan) -> pl.DataFrame:
    """The order book without the orders of markets reached by sea: what home waits would
    be if export took no capacity."""
    return book.filter(pl.col("market").is_in(home_markets(plan)))
