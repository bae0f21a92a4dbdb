"""Commands about what may come: simulate (Monte Carlo windows), backtest (do promises
come true), report (the overview, with a Monte Carlo band if asked), fit (the
uncertainty learned from the record)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.markup import escape

from promiseline import api
from promiseline.cli.readouts import print_backtest, print_fit, print_simulation
from promiseline.cli.shared import (
    AcceptRejected,
    AsOfOpt,
    OrdersArg,
    ScenarioArg,
    err,
    exit_if_rejected,
    out,
    parse_days,
    print_paths,
    read_inputs,
    steps,
)
from promiseline.io.outputs import write_backtest, write_simulation

if TYPE_CHECKING:
    from promiseline.core.futures.backtest import Backtest
    from promiseline.core.futures.history import History
    from promiseline.core.futures.simulate import Simulation

commands = typer.Typer()


def write_simulation_and_charts(sim: Simulation, output: Path) -> dict[str, Path]:
    """The Monte Carlo files, then the plan's charts and report.html with the run's bands."""
    from promiseline.web.report import write_plan_charts

    return write_simulation(sim, output) | write_plan_charts(sim.base, output, sim)


@commands.command()
def simulate(
    scenario: ScenarioArg,
    orders: OrdersArg,
    futures: Annotated[int, typer.Option(help="Futures to sample.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same answer.")] = 0,
    workers: Annotated[int, typer.Option(help="Dask LocalCluster processes (1: none).")] = 1,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:8786.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-simulation"
    ),
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
) -> None:
    """Monte Carlo delivery windows: P10/P50/P90 dates, cancellations, fan charts."""
    with steps() as say:
        say("loading")
        s, book = read_inputs(scenario, orders, as_of)
        for w in api.simulate_warnings(s):
            err.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
        say(f"planning {futures} futures")
        sim = api.simulate(s, book, futures=futures, seed=seed, workers=workers, dask=dask)
        say("writing outputs and charts")
        paths = write_simulation_and_charts(sim, output)
    print_simulation(sim)
    print_paths(paths)
    exit_if_rejected(book, accept_rejected)


@commands.command()
def report(
    scenario: ScenarioArg,
    orders: OrdersArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    futures: Annotated[
        int, typer.Option(help="Monte Carlo futures for the backlog's P10-P90 band (0: none).")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo runs.")] = 0,
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
) -> None:
    """The dashboard's overview as one self-contained HTML file, for sending by mail."""
    from promiseline.web.report import write_report

    with steps() as say:
        say("loading")
        s, book = read_inputs(scenario, orders, as_of)
        bands = None
        if futures:
            say(f"simulating {futures} futures")
            sim = api.simulate(s, book, futures=futures, seed=seed)
            plan, bands = sim.base, sim.bands()
        else:
            say("planning")
            plan = api.plan(s, book)
        say("writing the report")
        path = write_report(api.overview(plan, bands), output)
    print_paths({"report": path})
    exit_if_rejected(book, accept_rejected)


@commands.command()
def backtest(
    scenario: Annotated[
        Path | None,
        typer.Argument(
            metavar="SCENARIO",
            help="Scenario YAML file, or 'demo' (not with --db).",
            show_default=False,
        ),
    ] = None,
    orders: Annotated[
        Path | None,
        typer.Argument(
            metavar="ORDERS",
            help="Order book, .csv or .parquet, or 'demo' (not with --db).",
            show_default=False,
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Score a deployment's own history instead: database URL of the service "
            "(sqlite:///FILE or postgresql://...).",
            show_default=False,
        ),
    ] = None,
    reality: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="PATCH.yaml",
            help="A patch for the world the planner does not know (repeatable).",
        ),
    ] = None,
    realities: Annotated[int, typer.Option(help="Realities drawn (seeds seed, seed+1, ...).")] = 1,
    futures: Annotated[int, typer.Option(help="Monte Carlo futures per replay.")] = 50,
    every: Annotated[str, typer.Option(help="Replay every (7d, 2w).")] = "7d",
    span: Annotated[str, typer.Option(help="Replay over (365d, 26w).")] = "365d",
    seed: Annotated[int, typer.Option(help="Seed of the first reality.")] = 0,
    workers: Annotated[int, typer.Option(help="Dask LocalCluster processes (1: none).")] = 1,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-backtest"
    ),
    recalibrate: Annotated[
        bool,
        typer.Option(
            help="Tell windows recalibrated by the outcomes known then (off: the model's own)."
        ),
    ] = True,
    as_of: AsOfOpt = None,
) -> None:
    """Does a promise come true as often as it says? Replay time through a drawn reality,
    promise as the service would, and score every promise against what came; or, with
    --db, score what a deployment really told its orders (delivered, or late and still
    undelivered: counted as misses)."""
    from promiseline.charts import backtest_charts

    if db is not None and (scenario is not None or orders is not None or reality):
        raise click.UsageError(
            "--db scores the database's own history: give no SCENARIO, ORDERS or --reality"
        )
    if db is None and (scenario is None or orders is None):
        missing = "SCENARIO" if scenario is None else "ORDERS"
        raise click.UsageError(
            f"Missing argument '{missing}': give SCENARIO and ORDERS to replay, or --db URL"
        )
    result: Backtest | History
    made_as_of: dt.date | None = None  # a history's charts: as of its newest event
    with steps() as say:
        if db is not None:
            say("reading the promises told and the deliveries")
            result = api.backtest_history(db)
        else:
            assert scenario is not None
            assert orders is not None
            say("loading")
            s, book = read_inputs(scenario, orders, as_of)
            made_as_of = s.now
            for w in api.backtest_warnings(s, book):
                err.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
            result = api.backtest(
                s,
                book,
                realities=reality or (),
                draws=realities,
                futures=futures,
                every_days=parse_days(every, "--every"),
                span_days=parse_days(span, "--span"),
                seed=seed,
                workers=workers,
                progress=say,
                recalibrate=recalibrate,
            )
        say("writing outputs and charts")
        scores = result.to_json()
        if db is not None and not scores["orders_scored"]:  # nothing delivered yet
            out.print(
                f"Nothing to score yet in {db}: no order told a window has been delivered "
                f"({scores.get('orders_open', 0):,} still open); no file written."
            )
            return
        paths = write_backtest(scores, output) | backtest_charts(result, output, made_as_of)
    print_backtest(scores)
    print_paths(paths)


@commands.command()
def fit(
    scenario: ScenarioArg,
    output_history: Annotated[
        Path | None,
        typer.Option(
            "--output-history",
            help="Daily output per line, .csv or .parquet of date, line, built ('demo': the "
            "demo's, with the demo scenario).",
            show_default=False,
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Or the orders a service's database holds as built, counted per line and "
            "day (sqlite:///FILE or postgresql://...).",
            show_default=False,
        ),
    ] = None,
    receipts: Annotated[
        Path | None,
        typer.Option(
            help="Part receipts, .csv or .parquet of date, part, received: their outages.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Write the scenario with the fitted uncertainty to this YAML file (default: "
            "print the uncertainty section).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Learn the uncertainty from the record: per line, uptime (mean, sd, level_share,
    memory_days) and slowdowns from the daily output against the plan; per part,
    outages from receipts. Each estimate with its standard error."""
    if (output_history is None) == (db is None):
        raise click.UsageError("give the record: --output-history FILE or --db URL (one)")
    if output is not None and output.is_dir():
        raise click.UsageError(f"-o/--output: {output} is a folder; name the YAML file to write")
    history = output_history
    if history is not None and str(history) == "demo" and str(scenario) != "demo":
        raise click.UsageError(
            "--output-history demo is the demo's record and goes only with the demo scenario"
        )
    with steps() as say:
        say("loading the scenario")
        s = api.load_scenario(scenario)
        say("fitting the record")
        result = api.fit(s, history, db=db, receipts=receipts)
        text = api.fitted_scenario(scenario, result)
        if output is not None:
            output.write_text(text, encoding="utf-8")
    print_fit(result)
    if output is None:
        from promiseline.io.scenario_edit import section_of

        out.print(section_of(text), markup=False, highlight=False, end="", soft_wrap=True)
    else:
        err.print(f"Wrote {output} (the scenario with the fitted uncertainty)", highlight=False)
