"""The public Python API: load, plan, quote, explain. Adapters (CLI, service) call only this.

>>> import promiseline as pl8
>>> scenario = pl8.demo_scenario()
>>> plan = pl8.plan(scenario, pl8.demo_orders())
>>> pl8.summary(plan)["waits_by_model"][1]["model"]
'YU7'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from promiseline.core.futures.backtest import Backtest
from promiseline.core.futures.fit import Fit
from promiseline.core.futures.history import History
from promiseline.core.futures.plant import PlantDay
from promiseline.core.futures.plant import plant_day as _plant_day
from promiseline.core.futures.simulate import Runner, Simulation
from promiseline.core.model.orders import OrderBook, order_book
from promiseline.core.model.orders import (
    parse_options as parse_options,  # the one NAME=VALUE parser
)
from promiseline.core.model.progress import ProgressImport, check_reports, standing, transition
from promiseline.core.model.records import ROLES, Role
from promiseline.core.model.scenario import Scenario, plant_time
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import Progress
from promiseline.core.planning.planner import plan as _plan
from promiseline.core.planning.quote import Quote
from promiseline.core.planning.quote import quote as _quote
from promiseline.core.planning.roll import Rolled
from promiseline.core.planning.roll import roll as _roll
from promiseline.core.readout.explain import Explanation
from promiseline.core.readout.explain import explain as _explain
from promiseline.core.readout.overview import Overview
from promiseline.core.readout.overview import overview as _overview
from promiseline.core.readout.summary import summary as _summary
from promiseline.core.sequencing.day import DaySequence, PlanSequence
from promiseline.core.sequencing.replan import SequencedPlan
from promiseline.core.sequencing.roadef import RoadefDay
from promiseline.core.sequencing.roadef_search import RoadefSequenced
from promiseline.core.sequencing.solve import Sequenced
from promiseline.core.studies.allocation import Allocation
from promiseline.core.studies.sizing import Sizing
from promiseline.core.studies.whatif import Comparison
from promiseline.errors import InvalidRequestError, ProgressError, PromiselineError, counted
from promiseline.io.csplib import Read as CsplibRead
from promiseline.io.csplib import read_csplib
from promiseline.io.order_book import read_orders
from promiseline.io.scenario_file import load_patch as _load_patch
from promiseline.io.scenario_file import load_scenario as _load_scenario
from promiseline.io.scenario_file import scenario_from_dict


def load_scenario(
    path: str | Path | None = None, *, as_of: dt.datetime | dt.date | None = None
) -> Scenario:
    """A scenario YAML file, or the embedded demo scenario when `path` is None or "demo";
    planned as of `as_of` when given (else as the file says: its `as_of`, or `start`)."""
    if path is None or str(path) == "demo":
        from promiseline.demo import demo_scenario

        s = demo_scenario()
    else:
        s = _load_scenario(path)
    return s if as_of is None else s.replace(as_of=as_of)


def load_orders(orders: str | Path | pl.DataFrame, scenario: Scenario) -> OrderBook:
    """An order book file (CSV or Parquet), or a table in the contract's columns such as
    `demo_orders()`; bad rows are kept aside in `.rejected`."""
    if isinstance(orders, pl.DataFrame):
        return order_book(orders, scenario)
    return read_orders(orders, scenario)


def plan(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | str | Path,
    *,
    progress: Progress | None = None,
) -> Plan:
    """Plan every order (a book, a table in the contract's columns, or a file)."""
    if isinstance(orders, (str, Path)):
        orders = read_orders(orders, scenario)
    return _plan(scenario, order_book(orders, scenario), progress=progress)


def unheard_options(plan: Plan, options: Mapping[str, str]) -> list[str]:
    """What in a quote's options no order of the plan's book has and no rule of its
    scenario names, in words (a likely typo: options are free text)."""
    from promiseline.core.model.orders import unheard_options as _unheard

    return _unheard(options, plan.book.table["options"], plan.scenario)


def quote(
    plan: Plan,
    model: str,
    variant: str,
    market: str,
    options: dict[str, str] | None = None,
    when: dt.datetime | None = None,
    *,
    priority: int = 0,
    order_id: str | None = None,
) -> Quote:
    """The build and delivery date a new order would get if locked at `when` (default:
    the moment the plan is made as of, else now). Books nothing; `Booking(plan).book(...)`
    books orders between re-plans."""
    moment = when or _moment(plan.scenario) or dt.datetime.now().replace(microsecond=0)
    return _quote(
        plan, model, variant, market, options, moment, priority=priority, order_id=order_id
    )


def _moment(scenario: Scenario) -> dt.datetime | None:
    """The moment a scenario is planned as of (`as_of`; a date is its midnight), or None."""
    a = scenario.as_of
    return a if isinstance(a, dt.datetime) or a is None else dt.datetime.combine(a, dt.time())


def roll(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | str | Path,
    to: dt.date,
    *,
    progress: Progress | None = None,
) -> Rolled:
    """The scenario and order book as they stand on `to` if the plan held: built,
    shipped and delivered orders, the new frozen zone, `as_of: to` (SCENARIO.md)."""
    return roll_plan(plan(scenario, orders, progress=progress), to)


def roll_plan(plan: Plan, to: dt.date) -> Rolled:
    """`roll` of a plan already made."""
    return _roll(plan, to)


def plant_now(scenario: Scenario) -> dt.datetime:
    """Now at the plant: the machine's clock in the scenario's time zone (none: the
    machine's own)."""
    return plant_time(dt.datetime.now(), scenario.timezone)


def plant_day(plan: Plan, day: dt.date, *, seed: int = 0) -> PlantDay:
    """The progress a plant working as `plan` says reports on `day` (on or after the
    plan's own day), with each line's uptime drawn from the scenario's uncertainty
    (seeded by `seed` and the day): built, shipped by sea, delivered. Pure; what
    `serve --simulate-plant` applies through the progress rule."""
    return _plant_day(plan, day, seed)


def import_progress(
    path: str | Path,
    db: str,
    *,
    scenario: Scenario | None = None,
    now: dt.datetime | None = None,
) -> ProgressImport:
    """The plant's progress (a .csv or .parquet of order_id, status, line, build_date,
    sailing_id, at) into a database: every row checked against its order and the scenario
    (the database's own unless given) as of `now` at the plant (default: the clock in the
    scenario's time zone); all applied in one transaction, or none (ProgressError naming
    every wrong row). The same file twice changes nothing."""
    from promiseline.io.progress_file import read_progress
    from promiseline.io.scenario_file import from_stored
    from promiseline.store import open_existing

    reports, errors = read_progress(path)
    store = open_existing(db)
    try:
        if scenario is None:
            stored = store.scenario()
            scenario = from_stored(stored, store.name) if stored else load_scenario(None)
        moment = now or plant_now(scenario)
        records = store.records([r.order_id for _, r in reports])
        changes, unchanged, wrong = check_reports(
            scenario, moment, {k: standing(v) for k, v in records.items()}, reports
        )
        errors += wrong
        if errors:
            raise ProgressError(
                f"{path}: {counted(len(errors), 'row')} wrong, nothing was written", errors
            )
        store.write([transition(r, was, "import") for r, was in changes], whole=True)
    finally:
        store.close()
    return ProgressImport(moved=len(changes), unchanged=unchanged)


def summary(plan: Plan) -> dict[str, Any]:
    """The plan in figures, as JSON: waits per model and variant, what held orders back,
    line utilization, stock, backlog, and the export part when a market is by sea."""
    return _summary(plan)


def explain(plan: Plan, order_id: str) -> Explanation:
    """Why an order got its date: what bound it and how many orders ahead use the same."""
    return _explain(plan, order_id)


def simulate(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | Plan | str | Path,
    *,
    futures: int = 100,
    seed: int = 0,
    workers: int = 1,
    dask: str | None = None,
) -> Simulation:
    """Monte Carlo over the scenario's `uncertainty`: in this process, on a LocalCluster of
    `workers` processes, or on the Dask scheduler at `dask` (tcp://host:8786). A plan of
    the scenario may be passed for the orders; it is not planned again."""
    from promiseline.core.futures.simulate import simulate as _simulate

    if isinstance(orders, (str, Path)):
        orders = read_orders(orders, scenario)
    with _futures_runner(workers, dask) as (runner, chunks):
        return _simulate(scenario, orders, futures=futures, seed=seed, runner=runner, chunks=chunks)


@contextmanager
def _futures_runner(workers: int, dask: str | None) -> Iterator[tuple[Runner | None, int]]:
    """Where Monte Carlo futures run: here (None), a LocalCluster or a scheduler; and in
    how many pieces (two per worker)."""
    if dask is None and workers <= 1:
        yield None, 4
        return
    from promiseline.distributed import dask_runner, local_client, remote_client

    ctx = remote_client(dask) if dask else local_client(workers)
    with ctx as client:
        n = len(client.scheduler_info()["workers"]) or workers
        yield dask_runner(client), 2 * n


def backtest(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | str | Path,
    *,
    realities: Sequence[str | Path] = (),
    draws: int = 1,
    futures: int = 50,
    every_days: int = 7,
    span_days: int = 365,
    seed: int = 0,
    workers: int = 1,
    dask: str | None = None,
    progress: Progress | None = None,
    recalibrate: bool = True,
) -> Backtest:
    """Does a promise come true as often as it says? `draws` realities of the scenario's
    own uncertainty (or of each `realities` patch: a world the planner does not know),
    replayed every `every_days` over `span_days`, every promise scored; `recalibrate`:
    windows told recalibrated by the outcomes known then (core/futures/recalibrate.py)."""
    from promiseline.core.futures.backtest import backtest as _backtest

    if isinstance(realities, (str, Path)) or not (
        isinstance(realities, Sequence) and all(isinstance(r, (str, Path)) for r in realities)
    ):
        raise InvalidRequestError(
            "realities: a list of patch files (worlds the planner does not know); the "
            f"number of realities drawn is draws=, got {realities!r}"
        )
    if isinstance(orders, (str, Path)):
        orders = read_orders(orders, scenario)
    worlds = _patched(scenario, realities)
    with _futures_runner(workers, dask) as (runner, chunks):
        return _backtest(
            scenario,
            orders,
            worlds=worlds,
            realities=draws,
            futures=futures,
            every_days=every_days,
            span_days=span_days,
            seed=seed,
            runner=runner,
            chunks=chunks,
            progress=progress,
            recalibrate=recalibrate,
        )


def overview(plan: Plan, bands: pl.DataFrame | None = None) -> Overview:
    """What a planner reads at a glance, as chart-ready tables (the dashboard's overview
    and `promiseline report`); `bands`: a simulation's `bands()` for the backlog's band."""
    return _overview(plan, bands)


def simulate_warnings(scenario: Scenario) -> list[str]:
    """What a Monte Carlo of this scenario cannot show (nothing in it uncertain): said
    before its windows are read as news."""
    from promiseline.core.futures.simulate import certainty_warnings

    return certainty_warnings(scenario)


def backtest_warnings(
    scenario: Scenario, orders: OrderBook | pl.DataFrame | str | Path
) -> list[str]:
    """What the replays' futures cannot know of and their realities hold (no uncertainty;
    orders still to lock that jump the queue): said before a backtest scores windows too
    sure of themselves."""
    from promiseline.core.futures.backtest import blind_spots

    if isinstance(orders, (str, Path)):
        orders = read_orders(orders, scenario)
    return blind_spots(scenario, orders)


def backtest_history(db: str) -> History:
    """The backtest's scores from a deployment's own history: what each order was told
    (first promise, every eta_changed) against the day it was delivered, or, for one not
    delivered past a window, as a miss (censored) as of the database's newest event."""
    from promiseline.core.futures.history import score_history
    from promiseline.store import open_existing

    store = open_existing(db)
    try:
        return score_history(*store.promise_history(), database=store.name)
    finally:
        store.close()


def fit(
    scenario: Scenario,
    history: str | Path | pl.DataFrame | None = None,
    *,
    db: str | None = None,
    receipts: str | Path | pl.DataFrame | None = None,
) -> Fit:
    """The scenario's uncertainty learned from the record: per line, uptime's mean, sd,
    level_share and memory_days and the slowdowns, from a daily output history (a .csv
    or .parquet of date, line, built, or such a table; "demo" for the demo's) or from
    the orders a database holds as built; per part, outages from receipts (date, part,
    received). Each estimate comes with its standard error (core/futures/fit.py says
    how each is made); `fitted_scenario` writes them into the scenario's YAML."""
    from promiseline.core.futures.fit import fit as _fit
    from promiseline.io.history_file import read_output_history, read_receipts

    if (history is None) == (db is None):
        raise PromiselineError("fit: give a daily output history or a database, one of them")
    if db is not None:
        from promiseline.store import open_existing

        store = open_existing(db)
        try:
            built, source = store.built_per_day(), f"database {store.name}"
        finally:
            store.close()
    elif isinstance(history, pl.DataFrame):
        built, source = history, "the output history"
    else:
        assert history is not None
        path = _demo_history() if str(history) == "demo" else Path(history)
        source = f"the demo's {path.name}" if str(history) == "demo" else str(history)
        built = read_output_history(path)
    parts = None
    if isinstance(receipts, pl.DataFrame):
        parts = receipts
    elif receipts is not None:
        parts = read_receipts(receipts)
    return _fit(
        scenario,
        built,
        parts,
        source=source,
        receipts_source=None if receipts is None else str(receipts),
    )


def _demo_history() -> Path:
    from promiseline.demo import demo_output_history

    return demo_output_history()


def fitted_scenario(scenario: str | Path | None, result: Fit) -> str:
    """The scenario's YAML text (a file, or "demo"/None for the embedded one) with the
    fitted entries in its `uncertainty` section, each estimate's standard error as a
    comment and every other line as it was; validated (ScenarioError if not)."""
    from promiseline.io.scenario_edit import with_fitted
    from promiseline.io.scenario_file import read_text, scenario_from_yaml

    if scenario is None or str(scenario) == "demo":
        from promiseline.demo import demo_yaml

        text, source = demo_yaml(), "demo"
    else:
        text, source = read_text(scenario), str(scenario)
    out = with_fitted(text, result.yaml())
    scenario_from_yaml(out, f"{source} with the fitted uncertainty")
    return out


def load_patch(path: str | Path) -> dict[str, Any]:
    """A what-if patch (YAML in the scenario's shape)."""
    return _load_patch(path)


def compare(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | str | Path,
    patches: Sequence[str | Path],
) -> Comparison:
    """Plan the order book on the scenario and on each what-if patch of it (a file, or a
    built-in what-if's name), named by the file."""
    if not isinstance(orders, (OrderBook, pl.DataFrame, str, Path)):
        raise TypeError(
            f"compare(scenario, orders, patches): orders must be an order book, a table or a "
            f"file, got {type(orders).__name__} (the patches now come after the orders)"
        )
    if isinstance(orders, (str, Path)):
        orders = read_orders(orders, scenario)
    return compare_scenarios([("base", scenario), *_patched(scenario, patches)], orders)


def export_outlook(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | str | Path,
    base: Plan | None = None,
    *,
    whatifs: Sequence[str | Path] | None = None,
) -> pl.DataFrame:
    """What export does to the waits at home and abroad, one row each: the plan of the
    orders (`base`, when made already), the orders planned without those of the markets
    by sea ("no export"), and planned on each what-if (patch files or built-in names;
    by default the built-in ones, made for the demo's lanes). Columns: waits at home (all,
    of the orders locked since the first export order, and of those built before the
    first sailing), export orders and their waits, the last export delivery, the port
    yard's peak, the median days a car waits at the port, orders without a sailing."""
    from promiseline.core.studies.whatif import export_outlook as _export_outlook
    from promiseline.io.scenario_file import builtin_whatifs

    if isinstance(orders, (str, Path)):
        orders = read_orders(orders, scenario)
    if base is None:
        base = plan(scenario, orders)
    patches = list(builtin_whatifs()) if whatifs is None else whatifs
    return _export_outlook(base, orders, _patched(scenario, patches))


def lane_warnings(scenario: Scenario) -> list[str]:
    """Export settings that are valid but carry nothing: a lane with no sailing, or no
    seat, inside the horizon; a market by sea with no seat at all; quota months outside
    the horizon. Said before a plan surprises anyone (`promiseline validate`)."""
    from promiseline.core.planning.sea import lane_warnings as _lane_warnings

    return _lane_warnings(scenario)


def check_role(role: str) -> Role:
    """An API key's role as given ('planner' or 'admin'), or PromiselineError naming the
    roles."""
    for known in ROLES:
        if role == known:
            return known
    raise PromiselineError(f"role must be one of {list(ROLES)}, got {role!r}")


def patched(scenario: Scenario, name: str, patch: dict[str, Any]) -> Scenario:
    """The scenario with a what-if patch (a mapping in the scenario's shape) applied,
    validated as a whole (ScenarioError names every problem)."""
    from promiseline.core.studies.whatif import patched as _patch

    return _patch(scenario, patch, scenario_from_dict, name)


def compare_scenarios(
    scenarios: Sequence[tuple[str, Scenario]], orders: OrderBook | pl.DataFrame
) -> Comparison:
    """Plan one order book on each named scenario."""
    from promiseline.core.studies.whatif import compare as _compare

    return _compare(list(scenarios), orders)


def check_target(target: str) -> None:
    """A sizing target that reads ('p90_wait<=180d from 2026-01-01'), or SizingError."""
    from promiseline.core.studies.sizing import Target

    Target.parse(target)


def _patched(scenario: Scenario, patches: Sequence[str | Path]) -> list[tuple[str, Scenario]]:
    """The scenario with each patch file applied, named by the file."""
    return [(Path(p).stem, patched(scenario, str(p), load_patch(p))) for p in patches]


def allocate(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | str | Path,
    *,
    domestic_p90_days: int,
    months: tuple[dt.date, dt.date] | None = None,
    progress: Progress | None = None,
) -> Allocation:
    """Monthly export quotas per market that maximize margin while the domestic P90 wait
    stays within `domestic_p90_days`: a HiGHS MIP, checked by the planner with the quotas
    applied (`Allocation.scenario` holds them, ready to plan)."""
    from promiseline.core.studies.allocation import allocate as _allocate

    check_allocation(scenario, months)  # before the book is read
    if isinstance(orders, (str, Path)):
        orders = read_orders(orders, scenario)
    return _allocate(
        scenario,
        order_book(orders, scenario),
        domestic_p90_days=domestic_p90_days,
        months=months,
        progress=progress,
    )


def size(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | str | Path,
    target: str,
    *,
    levers: Sequence[str] = ("shift", "line", "part"),
) -> Sizing:
    """Least-cost capacity additions (the scenario's `levers`) that meet a wait target such
    as "p90_wait<=180d from 2026-01-01", found with HiGHS and checked by the planner."""
    from promiseline.core.studies.sizing import size as _size

    kinds = check_sizing(scenario, levers)  # before the book is read
    if isinstance(orders, (str, Path)):
        orders = read_orders(orders, scenario)
    return _size(scenario, order_book(orders, scenario), target, kinds=kinds)


def check_sizing(
    scenario: Scenario, levers: Sequence[str] = ("shift", "line", "part")
) -> tuple[str, ...]:
    """Refuse a sizing too large to run (StudyTooLargeError: its MIP's nonzeros or its
    line-days over the bounds of core/studies/bounds.py), from the scenario alone, before
    a job starts; the lever kinds it would use."""
    from promiseline.core.studies import bounds

    kinds = tuple(k.strip().rstrip("s") for k in levers)
    bounds.check(bounds.sizing_size(scenario, kinds))
    return kinds


def check_allocation(scenario: Scenario, months: tuple[dt.date, dt.date] | None = None) -> None:
    """Refuse an allocation too large to run (as `check_sizing`)."""
    from promiseline.core.studies import bounds

    bounds.check(bounds.allocation_size(scenario, months))


def sequence_csplib(
    path: str | Path,
    seconds: float = 60.0,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[tuple[CsplibRead, Sequenced]]:
    """Sequence every instance of a CSPLib prob001 file (car sequencing), each within
    `seconds`: the sequence with the fewest windows of q cars holding more than p with an
    option, and whether that is proved least (see core/sequencing)."""
    from promiseline.core.sequencing.solve import sequence

    say = progress or (lambda _: None)
    out = []
    reads = read_csplib(path)
    for i, r in enumerate(reads, start=1):
        say(f"sequencing {r.instance.name} ({i} of {len(reads)}, {r.instance.cars} cars)")
        out.append((r, sequence(r.instance, seconds=seconds, seed=seed)))
    return out


def sequence_roadef(
    path: str | Path,
    seconds: float = 60.0,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[tuple[RoadefDay, RoadefSequenced]]:
    """Sequence a ROADEF 2005 (Renault) instance directory, or each instance in a
    directory of them, within `seconds` each: the challenge's weighted objective (HPRC,
    colour changes, LPRC in the instance's order) with the paint batch limit kept
    (core/sequencing/roadef.py)."""
    from promiseline.core.sequencing.roadef_search import sequence_day as _sequence_day
    from promiseline.io.roadef import read_roadef

    say = progress or (lambda _: None)
    out = []
    days = read_roadef(path)
    for i, d in enumerate(days, start=1):
        say(f"sequencing {d.name} ({i} of {len(days)}, {d.cars} cars)")
        out.append((d, _sequence_day(d, seconds=seconds, seed=seed)))
    return out


def sequence_day(plan: Plan, line: str, day: dt.date, seconds: float = 10.0) -> DaySequence:
    """The build order of the cars `plan` builds on `line` on `day`, under the line's
    `stations` (at most p of q consecutive cars each): the order with the fewest windows
    over a station's capacity (core/sequencing)."""
    from promiseline.core.sequencing.day import sequence_day as _sequence_day

    return _sequence_day(plan, line, day, seconds)


def sequence_plan(
    plan: Plan, seconds: float = 1.0, progress: Callable[[str], None] | None = None
) -> PlanSequence:
    """Sequence every day of every line with `stations` (`sequence_day` each, at most
    `seconds` a day): the build order of each and, per line-day, the windows over a
    station's capacity and the empty carriers a feasible line would need."""
    from promiseline.core.sequencing.day import sequence_plan as _sequence_plan

    return _sequence_plan(plan, seconds, progress)


def plan_sequenced(
    plan: Plan,
    rounds: int = 3,
    seconds: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> SequencedPlan:
    """`sequence_plan`, and where a line-day needs empty carriers beyond its slots, those
    slots taken off that day (`lost_slots`) and the book planned again, until none does
    or `rounds` plans were made (core/sequencing/replan.py: the rule)."""
    from promiseline.core.sequencing.replan import sequenced_plan

    return sequenced_plan(plan, rounds, seconds, progress)
