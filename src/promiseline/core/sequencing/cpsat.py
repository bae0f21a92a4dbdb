"""The sequence by constraint programming (OR-Tools CP-SAT): the fewest windows over
capacity, proved least when the solver finishes in its time limit.

Model: one Boolean per position and class (each position one class, each class its
count); per rule and window, the cars with the option at most `p`, or the window counted
as a violation. Two kinds of redundant constraints, classic for car sequencing (Régin
and Puget 1997), cut the search: the cars with an option that the last `j` windows
cannot take must come before them (a lower bound on every prefix), and a window is
counted as violated only by a Boolean the objective pays for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from promiseline.core.arrays import I64
from promiseline.core.sequencing.instance import Instance, Score, score


@dataclass(frozen=True, slots=True)
class Solved:
    """A sequence (a class per position), its score, and whether it is proved best."""

    sequence: I64
    score: Score
    optimal: bool
    seconds: float
    bound: int  # the solver's lower bound on the violations


def solve(inst: Instance, seconds: float = 60.0, workers: int = 1, seed: int = 0) -> Solved | None:
    """The sequence with the fewest violated windows the solver finds in `seconds`. One
    worker by default: with more, which of several best sequences comes back varies from
    run to run, and a planned day's build order must not. None when it found none in
    time."""
    n, k = inst.cars, len(inst.counts)
    m = cp_model.CpModel()
    x = [[m.new_bool_var(f"x{i}_{c}") for c in range(k)] for i in range(n)]
    for i in range(n):
        m.add_exactly_one(x[i])
    for c in range(k):
        m.add(sum(x[i][c] for i in range(n)) == int(inst.counts[c]))
    demand = inst.demand()
    violated = []
    for r in inst.rules:
        mine = [c for c in range(k) if inst.options[c, r.option]]
        has = [m.new_bool_var(f"o{r.option}_{i}") for i in range(n)]
        for i in range(n):
            m.add(has[i] == sum(x[i][c] for c in mine))
        for s in range(n - r.q + 1):
            v = m.new_bool_var(f"v{r.option}_{s}")
            m.add(sum(has[s : s + r.q]) <= r.p + (r.q - r.p) * v)
            violated.append(v)
        total = int(demand[r.option])
        for j in range(1, n // r.q + 1):  # the last j windows take at most j * p of them
            head = n - j * r.q
            need = total - j * r.p
            if need > 0 and head > 0:
                m.add(sum(has[:head]) >= need).only_enforce_if(
                    [v.Not() for v in violated[-(n - r.q + 1) :]]
                )
    m.minimize(sum(violated))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(seconds)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    seq = np.array(
        [next(c for c in range(k) if solver.value(x[i][c])) for i in range(n)], dtype=np.int64
    )
    return Solved(
        seq,
        score(inst, seq),
        status == cp_model.OPTIMAL,
        float(solver.wall_time),
        round(solver.best_objective_bound),
    )
