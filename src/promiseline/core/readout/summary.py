"""The plan's JSON summary: waits, binding constraints, utilization, stock and backlog."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from promiseline.core.model.lifecycle import IN_PLANNING
from promiseline.core.planning.plan import HISTORY as HISTORY_GROUP
from promiseline.core.planning.plan import RESERVED, Plan
from promiseline.core.readout.export_outlook import export_summary
from promiseline.core.readout.waits import wait_stats


def utilization_days(plan: Plan) -> int:
    """Days from the start through the last day a slot is held (history, frozen orders
    kept without a sailing, planned orders; at least one): the period of line
    utilization. Capacity after it would only dilute it, and built and capacity must
    cover the same days for built / capacity to be the utilization."""
    cap = plan.capacity
    held = pl.Series(plan.group != RESERVED) & plan.table["line"].is_not_null()
    builds = plan.table.filter(held)["build_date"]
    # a history order built after the horizon (planned as of a later day) holds no slot
    last_build = builds.filter(builds < plan.scenario.end).max()
    if not isinstance(last_build, dt.date):
        return 1
    return max(1, min(cap.days, (last_build - cap.start).days + 1))


def summary(plan: Plan) -> dict[str, Any]:
    """Everything a planner reads first, as plain JSON-able values."""

    t = plan.table
    planned = t.filter(pl.col("status") == "planned")
    cap = plan.capacity
    placed = pl.Series(plan.group == HISTORY_GROUP)
    history = t.filter(placed).group_by("status").len().sort("status")
    skipped = (
        plan.book.table.filter(
            ~pl.col("status").is_in([s.value for s in IN_PLANNING])
            & ~pl.col("order_id").is_in(t.filter(placed)["order_id"].implode())
        )
        .group_by("status")
        .len()
    )
    bound = (
        planned.filter(pl.col("bound_by") != "")
        .group_by("bound_by")
        .len()
        .sort("len", "bound_by", descending=[True, False])
    )
    through = utilization_days(plan)  # built and capacity both over these same days
    built = (cap.slots - plan.state.free)[:, :through].sum(axis=1)
    slots = cap.slots[:, :through].sum(axis=1)
    lines = [
        {
            "line": name,
            "plant": cap.plant_names[i],
            "capacity": int(slots[i]),
            "built": int(built[i]),
            "utilization": _share(built[i], slots[i]),
        }
        for i, name in enumerate(cap.line_names)
    ]
    stock = plan.state.available()
    parts = [
        {
            "part": name,
            "supplied": int(cap.on_hand[i, -1]),
            "used": int(cap.on_hand[i, -1] - stock[i, -1]),
            "min_stock": int(stock[i].min()),
            "min_stock_date": cap.date(int(stock[i].argmin())).isoformat(),
            "end_stock": int(stock[i, -1]),
        }
        for i, name in enumerate(cap.part_names)
    ]
    backlog = plan.backlog()["backlog"].to_numpy()
    peak = int(np.argmax(backlog)) if len(backlog) else 0
    return {
        "scenario": plan.scenario.name,
        "start": cap.start.isoformat(),
        "end": plan.scenario.end.isoformat(),
        "as_of": plan.scenario.now.isoformat(),
        "orders": {
            "loaded": len(plan.book),
            "rejected": len(plan.book.rejected),
            "planned": planned.height,
            "unplanned": int((t["status"] == "unplanned").sum())
            - int((plan.group == RESERVED).sum()),
            "reserved_quoted": int((plan.group == RESERVED).sum()),
            "history": dict(zip(history["status"], history["len"], strict=True)),
            "skipped": dict(zip(skipped["status"], skipped["len"], strict=True)),
        },
        "first_delivery": _iso(planned["delivery_date"].min()),
        "last_delivery": _iso(planned["delivery_date"].max()),
        "waits_by_model": wait_stats(planned, ["model"]),
        "waits_by_variant": wait_stats(planned, ["model", "variant"]),
        "bound_by": dict(zip(bound["bound_by"], bound["len"], strict=True)),
        "lines": lines,
        "utilization_from": cap.start.isoformat(),
        "utilization_through": cap.date(through - 1).isoformat(),
        "parts": parts,
        "backlog": {
            "start": cap.start.isoformat(),
            "peak": int(backlog[peak]) if len(backlog) else 0,
            "peak_date": cap.date(peak).isoformat(),
            "by_day": backlog.tolist(),
        },
    } | ({"export": export_summary(plan)} if plan.capacity.sea.lane_names else {})


def _share(a: float, b: float) -> float:
    return round(float(a) / float(b), 4) if b else 0.0


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else None
