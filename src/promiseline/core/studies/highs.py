"""One way to build and solve a HiGHS model, for every study that needs a MIP (capacity
sizing, export allocation): columns and rows gathered as lists (the models are small:
weeks or months x lines x models), handed to HiGHS in one go, its banner kept quiet."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from promiseline.core.arrays import F64

OPTIMAL = "optimal"
INFEASIBLE = "infeasible"


@contextlib.contextmanager
def quiet_highs() -> Iterator[None]:
    """HiGHS prints a banner from C when it starts; keep it off the terminal."""
    try:
        fd = os.dup(1)
    except OSError:  # no real stdout (e.g. captured): nothing to hide
        yield
        return
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(fd, 1)
            os.close(fd)


@dataclass(frozen=True, slots=True)
class Solution:
    """`status`: OPTIMAL, INFEASIBLE, or HiGHS's own word when it stopped without either."""

    status: str
    x: F64  # column values (zeros unless optimal)
    objective: float


class Model:
    """Columns (bounds, cost, integrality) and rows (a sparse row and its bounds); math.inf
    stands for no bound."""

    def __init__(self) -> None:
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.cost: list[float] = []
        self.integer: list[int] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []

    def var(self, lo: float, hi: float, cost: float = 0.0, integer: bool = False) -> int:
        """A new column; its index."""
        self.lo.append(lo)
        self.hi.append(hi)
        self.cost.append(cost)
        if integer:
            self.integer.append(len(self.lo) - 1)
        return len(self.lo) - 1

    def row(self, idx: list[int], val: list[float], lo: float, hi: float) -> None:
        """lo <= sum(val * x[idx]) <= hi; an empty row is left out."""
        if not idx:
            return
        self.starts.append(len(self.index))
        self.index += idx
        self.value += val
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def solve(
        self, *, maximize: bool = False, mip_rel_gap: float | None = None, time_limit: float = 120.0
    ) -> Solution:
        """Solve; `mip_rel_gap` None keeps HiGHS's default."""
        import highspy

        with quiet_highs():
            h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", time_limit)
        if mip_rel_gap is not None:
            h.setOptionValue("mip_rel_gap", mip_rel_gap)
        n = len(self.lo)
        h.addVars(n, _bounds(self.lo), _bounds(self.hi))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(self.cost, dtype=np.float64))
        if self.integer:
            h.changeColsIntegrality(
                len(self.integer),
                np.array(self.integer, dtype=np.int32),
                np.array([highspy.HighsVarType.kInteger] * len(self.integer)),
            )
        if self.starts:
            h.addRows(
                len(self.starts),
                _bounds(self.row_lo),
                _bounds(self.row_hi),
                len(self.index),
                np.array(self.starts, dtype=np.int32),
                np.array(self.index, dtype=np.int32),
                np.array(self.value, dtype=np.float64),
            )
        sense = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        h.changeObjectiveSense(sense)
        h.run()
        status = h.getModelStatus()
        if status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return Solution(INFEASIBLE, np.zeros(n), 0.0)
        if status != highspy.HighsModelStatus.kOptimal:
            return Solution(h.modelStatusToString(status), np.zeros(n), 0.0)
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        return Solution(OPTIMAL, x, float(h.getInfo().objective_function_value))


def _bounds(values: list[float]) -> F64:
    """Bounds for HiGHS: its own infinity where a bound is none."""
    import highspy

    inf = highspy.kHighsInf
    return np.array(
        [math.copysign(inf, v) if math.isinf(v) else v for v in values], dtype=np.float64
    )
