"""Export allocation: how many cars each export market gets per month, by margin, with
the domestic wait kept to a target, checked by the planner (SCENARIO.md, "Export markets").

1. A MIP (HiGHS) on calendar-month buckets, from the scenario's start month through the
   last month of the window: integer x[m, k, j] cars of model j departing to export
   market k in window month m, margin maximized, within sailing capacity, quota, gates,
   export orders locked, line slots, cumulative part supply and a domestic-service rule
   (every domestic order built by lock + w_lp - lead days, nothing built before its
   lock). Export cars are taken as built in the month they depart.
2. The quotas (x summed over models) become `quota.months` of each market (0 in the
   horizon's other months, so the plan ships exactly the allocation) and the planner
   checks the domestic P90. The service rule is a conservative stand-in for a P90, so
   w_lp is searched (bisection, a few planner runs) for the largest that the planner
   shows keeps the domestic P90 within the target.
"""

from promiseline.core.studies.allocation.check import Allocation, allocate
from promiseline.core.studies.allocation.inputs import Inputs, inputs, month_key
from promiseline.core.studies.allocation.mip import Solved, solve

__all__ = [
    "Allocation",
    "Inputs",
    "Solved",
    "allocate",
    "inputs",
    "month_key",
    "solve",
]
