"""The public API's names where they are defined; `promiseline` imports this module on
the first use of one of them (its `__init__` says why)."""

# ruff: noqa: F401

from promiseline.api import (
    allocate,
    backtest,
    backtest_history,
    backtest_warnings,
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
    simulate_warnings,
    size,
    summary,
    unheard_options,
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
