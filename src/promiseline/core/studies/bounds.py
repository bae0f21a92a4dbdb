"""How big a sizing or allocation would be, told before it starts, from the scenario
alone (no capacity model, no order book, nothing allocated): a scenario that passes
validation may still name a MIP no machine holds (a ten-year horizon with 200 extra
lines took one sizing job to 10 GB in 48 s). Both studies call `check` first; the
service's page and the CLI reach it through them before a job starts.

The figures are upper bounds of what `sizing._solve` and `allocation.mip.solve` build:
every model and variant counted as ordered, every line that builds a model as a column
of it. The cumulative rows (parts used by a week, cars built by a week) make the
nonzeros grow with the square of the buckets, so the horizon weighs most.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from promiseline.core.model.scenario import Lever, Scenario
from promiseline.core.planning.sea import month_index
from promiseline.errors import StudyTooLargeError

MAX_NONZEROS = 10_000_000
"""Coefficients of one MIP at most (about 100 bytes each while built in Python and
copied into HiGHS: about 1 GB at the bound). The demo's sizing on every lever is
counted at 0.43 M (23 times under), its allocation at 17 k."""
MAX_CELLS = 20_000_000
"""Line-days of capacity a study plans with at most, over its planner runs (every
lever at its most) and lever measurements (a few arrays of 8 bytes a line-day): the
demo's sizing is counted at 16 k."""


@dataclass(frozen=True, slots=True)
class StudySize:
    """A study's size: its MIP's variables, rows and nonzeros, and the line-days of the
    capacity models it builds."""

    study: str
    variables: int
    rows: int
    nonzeros: int
    cells: int

    def text(self) -> str:
        return (
            f"{self.variables:,} variables, {self.rows:,} rows, {self.nonzeros:,} nonzeros, "
            f"{self.cells:,} line-days"
        )


def _triangle(n: int) -> int:
    """Entries of n cumulative rows over n buckets (1 + 2 + ... + n)."""
    return n * (n + 1) // 2


def _lines_building(s: Scenario, extra: Sequence[Lever]) -> dict[str, int]:
    """Per model: the lines that build it, and a MIP column per line lever like one."""
    by_name = {ln.name: ln for _, ln in s.lines}
    out = {p.model: 0 for p in s.products}
    for _, ln in s.lines:
        for m in ln.models:
            out[m] = out.get(m, 0) + 1
    for lv in extra:
        base = by_name.get(lv.line or "")
        for m in base.models if base else ():
            out[m] = out.get(m, 0) + 1
    return out


def sizing_size(s: Scenario, kinds: Sequence[str] = ("shift", "line", "part")) -> StudySize:
    """An upper bound of the sizing MIP on weekly buckets (sizing._solve) and of the
    line-days its planner runs and lever measurements hold."""
    levers = [lv for lv in s.levers if lv.kind in kinds]
    line_levers = [lv for lv in levers if lv.kind == "line"]
    weeks = math.ceil(s.horizon_days / 7)
    building = _lines_building(s, line_levers)
    classes = [(p.model, v) for p in s.products for v in p.variants]
    per_class = [building[m] for m, _ in classes]
    n_lines = len(s.lines) + len(line_levers)
    y = sum(per_class) * weeks
    rows = n_lines * weeks + len(s.parts) * weeks + 2 * len(classes) * weeks
    nonzeros = y + len(levers) * n_lines * weeks  # line capacity, with the levers' terms
    for part in s.parts:  # cumulative: parts used by week w
        users = sum(n for (_, v), n in zip(classes, per_class, strict=True) if part.name in v.parts)
        nonzeros += users * _triangle(weeks) + len(levers) * weeks
    nonzeros += 2 * sum(per_class) * _triangle(weeks)  # built by week w: at most, at least
    most = len(s.lines) + sum(lv.max_units for lv in line_levers)  # every lever at its max
    cells = s.horizon_days * (most + len(levers) * (len(s.lines) + 1))
    return StudySize("sizing", len(levers) + y, rows, nonzeros, cells)


def allocation_size(s: Scenario, months: tuple[dt.date, dt.date] | None = None) -> StudySize:
    """An upper bound of the allocation MIP on calendar months (allocation.mip.solve):
    buckets from the start's month through the window's last (the horizon's last when
    no months are given)."""
    last = month_index(s.end - dt.timedelta(days=1), s.start)
    if months is not None:
        last = min(last, max(0, month_index(months[1], s.start)))
    b = last + 1
    k = sum(1 for m in s.markets if m.export)
    j = len(s.products)
    n_l = len(s.lines)
    builds = sum(len(ln.models) for _, ln in s.lines)  # (line, model) pairs
    users = sum(
        1 for p in s.products for part in s.parts if any(part.name in v.parts for v in p.variants)
    )  # (model, part) pairs
    variables = b * k * j + b * builds + 2 * b * j
    rows = b * k + k * j * b + b * n_l + b * j + len(s.parts) * b + 2 * b * j
    nonzeros = (
        b * k * j  # sailings and quota
        + k * j * _triangle(b)  # export orders locked by then
        + b * builds  # line slots
        + b * (builds + j + k * j)  # built = domestic + export
        + users * n_l * _triangle(b)  # cumulative parts
        + 2 * j * _triangle(b)  # domestic: not before the lock, and by the service rule
    )
    return StudySize("allocation", variables, rows, nonzeros, s.horizon_days * n_l)


def check(size: StudySize) -> StudySize:
    """Refuse a study over the bounds (StudyTooLargeError, before anything is built),
    saying what makes it big and what to cut."""
    over = []
    if size.nonzeros > MAX_NONZEROS:
        over.append(f"its MIP would have {size.nonzeros:,} nonzeros (at most {MAX_NONZEROS:,})")
    if size.cells > MAX_CELLS:
        over.append(f"its capacity models {size.cells:,} line-days (at most {MAX_CELLS:,})")
    if over:
        raise StudyTooLargeError(
            f"{size.study}: too large to run: {' and '.join(over)}; shorten horizon_days, "
            f"or use fewer lines, levers (or their max_units), parts or variants"
            + (", or fewer months" if size.study == "allocation" else "")
        )
    return size


__all__ = [
    "MAX_CELLS",
    "MAX_NONZEROS",
    "StudySize",
    "allocation_size",
    "check",
    "sizing_size",
]
