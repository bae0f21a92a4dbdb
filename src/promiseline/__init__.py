"""promiseline: honest delivery dates for every order in a demand surge."""

from promiseline.api import (
    allocate,
    backtest,
    backtest_history,
    check_allocation,
    check_role,
    check_sizing,
    check_target,
    compare,
    compare_scenarios,
    explain,
    export_outlook,
    fit,
    fitted_scenario,
    import_progress,
    lane_warnings,
    load_orders,
    load_patch,
    load_scenario,
    overview,
    parse_options,
    patched,
    plan,
    plan_sequenced,
    plant_day,
    plant_now,
    quote,
    roll,
    roll_plan,
    sequence_csplib,
    sequence_day,
    sequence_plan,
    sequence_roadef,
    simulate,
    size,
    summary,
)
from promiseline.core.futures.backtest import Backtest
from promiseline.core.futures.fit import Fit
from promiseline.core.futures.history import History
from promiseline.core.futures.plant import PlantDay
from promiseline.core.futures.simulate import Simulation
from promiseline.core.model.orders import OrderBook, Rejection
from promiseline.core.model.scenario import Scenario
from promiseline.core.model.surge import Demand, generate_orders
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.quote import Booking, Quote
from promiseline.core.planning.roll import Rolled
from promiseline.core.readout.explain import Explanation
from promiseline.core.readout.overview import Overview
from promiseline.core.studies.allocation import Allocation
from promiseline.core.studies.sizing import Sizing
from promiseline.core.studies.whatif import Comparison
from promiseline.demo import demo_orders, demo_scenario
from promiseline.errors import (
    AllocationError,
    OrderBookError,
    OrderError,
    ProgressError,
    PromiselineError,
    QuoteError,
    RecordError,
    ScenarioError,
    SizingError,
    StudyTooLargeError,
    UnknownOrderError,
)
from promiseline.io.order_book import write_orders
from promiseline.io.outputs import write_plan

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
    "size",
    "summary",
    "write_orders",
    "write_plan",
]
