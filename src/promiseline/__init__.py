"""promiseline: honest delivery dates for every order in a demand surge.

The public API is imported on first use (PEP 562): `import promiseline.service.jobs` in a
job's fresh process, or the command line's `--help`, need not load the planner, the
studies and their solvers (1.7 s) before it needs them.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
    from promiseline._public import *  # noqa: F403

# ruff: noqa: F405 (the names below are _public's)

__all__ = [
    "Allocation",
    "AllocationError",
    "Backtest",
    "Booking",
    "Comparison",
    "Demand",
    "Explanation",
    "Fit",
    "History",
    "OrderBook",
    "OrderBookError",
    "OrderError",
    "Overview",
    "Plan",
    "PlantDay",
    "ProgressError",
    "PromiselineError",
    "Quote",
    "QuoteError",
    "RecordError",
    "Rejection",
    "Rolled",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "Sizing",
    "SizingError",
    "StudyTooLargeError",
    "UnknownOrderError",
    "allocate",
    "backtest",
    "backtest_history",
    "backtest_warnings",
    "check_allocation",
    "check_role",
    "check_sizing",
    "check_target",
    "compare",
    "compare_scenarios",
    "demo_orders",
    "demo_scenario",
    "explain",
    "export_outlook",
    "fit",
    "fitted_scenario",
    "generate_orders",
    "import_progress",
    "lane_warnings",
    "load_orders",
    "load_patch",
    "load_scenario",
    "overview",
    "parse_options",
    "patched",
    "plan",
    "plan_sequenced",
    "plant_day",
    "plant_now",
    "quote",
    "roll",
    "roll_plan",
    "sequence_csplib",
    "sequence_day",
    "sequence_plan",
    "sequence_roadef",
    "simulate",
    "simulate_warnings",
    "size",
    "summary",
    "unheard_options",
    "write_orders",
    "write_plan",
]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module 'promiseline' has no attribute {name!r}")
    from promiseline import _public

    value = getattr(_public, name)
    globals()[name] = value  # found here from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
