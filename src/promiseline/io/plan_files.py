"""Write a plan: plan.parquet, plan.csv and summary.json in one folder (with export by
sea, also sailings.parquet/.csv and yard.parquet/.csv: cars waiting at each port per day)."""

from __future__ import annotations

import json
from pathlib import Path

from promiseline.core.planning.plan import Plan
from promiseline.core.readout.summary import summary


def write_plan(plan: Plan, out: str | Path) -> dict[str, Path]:
    """Write the per-order table (Parquet and CSV) and the JSON summary; return the paths."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "parquet": folder / "plan.parquet",
        "csv": folder / "plan.csv",
        "summary": folder / "summary.json",
    }
    plan.table.write_parquet(paths["parquet"])
    plan.table.write_csv(paths["csv"], datetime_format="%Y-%m-%dT%H:%M:%S%.f")
    rejected = [
        {"row": r.row, "order_id": r.order_id, "reason": r.reason} for r in plan.book.rejected
    ]
    figures = summary(plan) | {"rejected_rows": rejected}
    paths["summary"].write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if plan.capacity.sea.lane_names:  # export by sea: the sailings and the port yards
        for name, table in (("sailings", plan.sailings()), ("yard", plan.yard())):
            paths[f"{name}_parquet"] = folder / f"{name}.parquet"
            paths[f"{name}_csv"] = folder / f"{name}.csv"
            table.write_parquet(paths[f"{name}_parquet"])
            table.write_csv(paths[f"{name}_csv"])
    return paths
