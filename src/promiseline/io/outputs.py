"""Every output file the planner writes, written one way: a plan (plan.parquet, plan.csv,
summary.json; by sea also sailings and yard, Parquet and CSV), a Monte Carlo run
(windows.parquet, bands.parquet, simulation.json), a backtest's backtest.json and an
allocation (quotas.csv, scenario.yaml, summary.json), a rolled book (scenario.yaml,
orders.csv). Charts and pages are drawn by
`promiseline.charts` and `promiseline.web`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy.typing as npt
import polars as pl
import yaml

from promiseline.core.readout.summary import summary
from promiseline.core.sequencing.day import DaySequence, PlanSequence
from promiseline.core.sequencing.roadef import COLOR, HPRC, LPRC, RoadefDay
from promiseline.core.sequencing.roadef_search import RoadefSequenced
from promiseline.core.sequencing.solve import Sequenced
from promiseline.io.csplib import Read
from promiseline.io.order_book import write_orders

if TYPE_CHECKING:
    from promiseline.core.futures.simulate import Simulation
    from promiseline.core.model.scenario import Scenario
    from promiseline.core.planning.plan import Plan
    from promiseline.core.planning.roll import Rolled
    from promiseline.core.studies.allocation import Allocation

Paths = dict[str, Path]
"""What was written, by name, in the order it was written."""


def folder(out: str | Path) -> Path:
    """The output folder, made (with its parents) when missing."""
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data: Any) -> Path:
    """JSON as every output has it: indented by two, a final newline, UTF-8; a value JSON
    has no type for (a date) as its text."""
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def write_csv(table: pl.DataFrame, path: Path) -> Path:
    """CSV as every output has it: date-times in ISO 8601 with a T."""
    table.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S%.f")
    return path


def _tables(out: Path, name: str, table: pl.DataFrame) -> Paths:
    """One table as NAME.parquet and NAME.csv."""
    paths = {f"{name}_parquet": out / f"{name}.parquet", f"{name}_csv": out / f"{name}.csv"}
    table.write_parquet(paths[f"{name}_parquet"])
    write_csv(table, paths[f"{name}_csv"])
    return paths


def write_plan(plan: Plan, out: str | Path) -> Paths:
    """Write the per-order table (Parquet and CSV) and the JSON summary (with the rejected
    rows); by sea also the sailings and the port yards. Returns the paths."""
    where = folder(out)
    paths = {
        "parquet": where / "plan.parquet",
        "csv": where / "plan.csv",
        "summary": where / "summary.json",
    }
    plan.table.write_parquet(paths["parquet"])
    write_csv(plan.table, paths["csv"])
    rejected = [
        {"row": r.row, "order_id": r.order_id, "reason": r.reason} for r in plan.book.rejected
    ]
    write_json(paths["summary"], summary(plan) | {"rejected_rows": rejected})
    if plan.by_sea:  # export by sea: the sailings and the cars waiting at each port per day
        paths |= _tables(where, "sailings", plan.sailings())
        paths |= _tables(where, "yard", plan.yard())
    return paths


def write_simulation(sim: Simulation, out: str | Path) -> Paths:
    """Each order's delivery window, the backlog's bands and the run's summary."""
    where = folder(out)
    paths = {
        "windows": where / "windows.parquet",
        "bands": where / "bands.parquet",
        "simulation": where / "simulation.json",
    }
    sim.orders().write_parquet(paths["windows"])
    sim.bands().write_parquet(paths["bands"])
    write_json(paths["simulation"], sim.summary())
    return paths


def write_backtest(scores: dict[str, Any], out: str | Path) -> Paths:
    """A backtest's scores (`Backtest.to_json()` or `History.to_json()`) as backtest.json."""
    return {"backtest": write_json(folder(out) / "backtest.json", scores)}


def write_allocation(allocation: Allocation, out: str | Path) -> Paths:
    """The quotas (CSV), the scenario with them set (YAML, ready to plan) and the summary."""
    where = folder(out)
    paths = {
        "quotas": where / "quotas.csv",
        "scenario": where / "scenario.yaml",
        "summary": where / "summary.json",
    }
    write_csv(allocation.quotas, paths["quotas"])
    write_scenario(allocation.scenario, paths["scenario"])
    write_json(paths["summary"], allocation.summary())
    return paths


def write_scenario(scenario: Scenario, path: Path) -> Path:
    """A scenario as YAML, ready to plan (keys in the model's order, none left empty)."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_roll(rolled: Rolled, out: str | Path) -> Paths:
    """A rolled book: scenario.yaml (as of the day it rolled to) and orders.csv."""
    where = folder(out)
    paths = {"scenario": where / "scenario.yaml", "orders": where / "orders.csv"}
    write_scenario(rolled.scenario, paths["scenario"])
    write_orders(rolled.book, paths["orders"])
    return paths


def _positions(
    instance: str, column: str, values: Sequence[Any] | npt.NDArray[Any], dtype: type[pl.DataType]
) -> pl.DataFrame:
    """One row per position of a sequenced instance: instance, position (from 1), what
    stands there (`column`)."""
    return pl.DataFrame(
        {
            "instance": [instance] * len(values),
            "position": range(1, len(values) + 1),
            column: values,
        },
        schema={"instance": pl.String, "position": pl.Int64, column: dtype},
    )


def write_sequences(done: list[tuple[Read, Sequenced]], out: str | Path) -> Paths:
    """Sequenced instances: `sequence.csv` (instance, position, class: the class index as
    in the file, positions from 1) and `summary.json` (per instance its violations, by
    rule and in all, whether that count is proved least, the method, the time, and what
    was assumed in reading it)."""
    where = folder(out)
    paths = {"sequence": where / "sequence.csv", "summary": where / "summary.json"}
    rows = pl.concat([_positions(s.instance, "class", s.sequence, pl.Int64) for _, s in done])
    write_csv(rows, paths["sequence"])
    write_json(
        paths["summary"],
        {
            "count": "windows of q consecutive cars holding more than p with the option",
            "instances": [
                {
                    "instance": s.instance,
                    "cars": r.instance.cars,
                    "violations": s.score.total,
                    "by_rule": [
                        {"option": rule.option, "p": rule.p, "q": rule.q, "windows": w, "excess": e}
                        for rule, w, e in zip(
                            r.instance.rules, s.score.windows, s.score.excess, strict=True
                        )
                    ],
                    "excess": sum(s.score.excess),
                    "proved_least": s.proved,
                    "method": s.method,
                    "seconds": round(s.seconds, 3),
                    "assumed": r.assumed,
                }
                for r, s in done
            ],
        },
    )
    return paths


def write_roadef(done: list[tuple[RoadefDay, RoadefSequenced]], out: str | Path) -> Paths:
    """Sequenced ROADEF 2005 days: `sequence.csv` (instance, position, car_id: the day's
    cars, positions from 1, idents as in vehicles.txt) and `summary.json` (per instance the
    weighted objective, each objective's count with its rank and weight, cars over N per
    ratio constraint, colour changes, runs over the batch limit, the method and time)."""
    where = folder(out)
    paths = {"sequence": where / "sequence.csv", "summary": where / "summary.json"}
    rows = pl.concat(
        [
            _positions(s.instance, "car_id", [d.ids[i] for i in s.sequence], pl.String)
            for d, s in done
        ]
    )
    write_csv(rows, paths["sequence"])
    counts = {HPRC: "hprc", COLOR: "color", LPRC: "lprc"}
    write_json(
        paths["summary"],
        {
            "count": (
                "ROADEF 2005: cars over N in every window of P cars holding a car of the day "
                "(the previous day's cars first, the last windows cut at the day's end); "
                "colour changes from the previous day's last car; weights 1,000,000, 1,000, "
                "1 by rank"
            ),
            "instances": [
                {
                    "instance": s.instance,
                    "cars": d.cars,
                    "objective": s.score.objective,
                    "objectives": [
                        {
                            "rank": k + 1,
                            "name": o,
                            "weight": d.weight(o),
                            "count": getattr(s.score, counts[o]),
                        }
                        for k, o in enumerate(d.objectives)
                    ],
                    "hprc": s.score.hprc,
                    "lprc": s.score.lprc,
                    "color_changes": s.score.color,
                    "batch_limit": d.batch_limit,
                    "batch_violations": s.score.batch_violations,
                    "by_rule": [
                        {"name": r.name, "n": r.n, "p": r.p, "high": r.high, "over": c}
                        for r, c in zip(d.rules, s.score.by_rule, strict=True)
                    ],
                    "method": s.method,
                    "seconds": round(s.seconds, 3),
                }
                for d, s in done
            ],
        },
    )
    return paths


def write_day_sequence(done: DaySequence, out: str | Path) -> Paths:
    """A line-day's build order: `sequence.csv` (instance, position, order_id, class and
    a column per station) and `summary.json` (the violations per station)."""
    where = folder(out)
    paths = {"sequence": where / "sequence.csv", "summary": where / "summary.json"}
    name = f"{done.line} {done.day}"
    write_csv(done.table.select(pl.lit(name).alias("instance"), pl.all()), paths["sequence"])
    r = done.result
    write_json(
        paths["summary"],
        {
            "instance": name,
            "cars": done.table.height,
            "violations": r.score.total,
            "by_station": [
                {"station": n, "windows": w, "excess": e}
                for n, w, e in zip(done.stations, r.score.windows, r.score.excess, strict=True)
            ],
            "proved_least": r.proved,
            **(
                {
                    "colour_changes": done.paint.color,
                    "batch_violations": done.paint.batch_violations,
                    "low_priority_excess": done.paint.lprc,
                }
                if done.paint is not None
                else {}
            ),
            "method": r.method,
            "seconds": round(r.seconds, 3),
        },
    )
    return paths


def write_plan_sequence(done: PlanSequence, out: str | Path) -> Paths:
    """Every line-day's build order (`sequence.parquet`: line, day, position, order_id)
    and what each needs (`sequencing.csv`: cars, violations, empty carriers, seconds)."""
    where = folder(out)
    paths = {"sequence": where / "sequence.parquet", "sequencing": where / "sequencing.csv"}
    done.positions.write_parquet(paths["sequence"])
    write_csv(done.days, paths["sequencing"])
    return paths
