"""Commands that plan an order book and read the plan: demo, plan, quote, explain,
validate, generate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from rich.markup import escape

from promiseline import api
from promiseline.cli.futures import write_simulation_and_charts
from promiseline.cli.readouts import (
    calibration_line,
    print_export,
    print_simulation,
    print_summary,
)
from promiseline.cli.shared import (
    AcceptRejected,
    AsOfOpt,
    OrdersArg,
    ScenarioArg,
    err,
    exit_if_rejected,
    out,
    parse_day,
    parse_days,
    parse_when,
    print_paths,
    print_rejected,
    read_and_plan,
    read_book,
    refuse_file_output,
    steps,
)
from promiseline.errors import counted
from promiseline.io.outputs import write_backtest, write_plan, write_plan_sequence, write_roll

if TYPE_CHECKING:
    import polars as pl

    from promiseline.core.model.orders import OrderBook
    from promiseline.core.planning.plan import Plan

commands = typer.Typer()


@commands.command()
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-demo"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic order book.")] = 2025,
    futures: Annotated[int, typer.Option(help="Monte Carlo futures.")] = 20,
    calibration: Annotated[
        str, typer.Option(help="Span of the short backtest whose line is printed (0: none).")
    ] = "28d",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Roll the story forward to this day (a date or 'today') along the plan: "
            "what it builds before then is built and delivered, the rest is the queue.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Plan the embedded demo as of the morning after the YU7 launch: the surge on top of
    the SU7 backlog, then a short Monte Carlo run and its charts, and a short backtest of
    the promises. With --as-of, the same story on a later day."""
    from promiseline.demo import demo_orders

    with steps() as say:
        say("generating the launch surge")
        s = api.load_scenario(None)
        orders: OrderBook | pl.DataFrame = demo_orders(seed)
        p = api.plan(s, orders, progress=say)
        if as_of is not None:
            day = parse_day(as_of, "--as-of")
            say(f"rolling the story to {day}")
            rolled = api.roll_plan(p, day)
            s, orders = rolled.scenario, rolled.book
            p = api.plan(s, orders, progress=say)
        say("writing outputs")
        paths = _write_plan_and_chart(p, output)
        if futures:
            say(f"Monte Carlo: {counted(futures, 'future')}")
            sim = api.simulate(s, p, futures=futures, seed=seed)
            say("writing charts")
            paths |= write_simulation_and_charts(sim, output)
        span = 0 if calibration.strip() in ("0", "0d") else parse_days(calibration, "--calibration")
        if futures and span:
            say("backtest")
            scores = api.backtest(
                s,
                orders,
                futures=futures,
                every_days=max(1, span // 2),
                span_days=span,
                seed=seed,
                progress=say,
            ).to_json()
            paths |= write_backtest(scores, output)
    sm = api.summary(p)
    print_summary(sm)
    if "export" in sm:  # a market by sea
        with steps() as say:
            say("export: planning without it and each built-in what-if")
            outlook = api.export_outlook(s, orders, p)
        print_export(sm["export"], outlook)
    if futures:
        print_simulation(sim)
        if span:
            out.print(calibration_line(scores))
    print_paths(paths)


def _write_plan_and_chart(plan: Plan, output: Path) -> dict[str, Path]:
    """The plan files, and by sea its export chart (export.png)."""
    paths = write_plan(plan, output)
    if plan.by_sea:
        from promiseline.charts import export_chart

        paths["export_chart"] = export_chart(plan, output / "export.png")
    return paths


@commands.command("plan")
def plan_cmd(
    scenario: ScenarioArg,
    orders: OrdersArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-plan"
    ),
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
    sequence: Annotated[
        bool,
        typer.Option(
            "--sequence",
            help="Also sequence every line-day of lines with stations (sequence.parquet, "
            "sequencing.csv).",
        ),
    ] = False,
    sequence_seconds: Annotated[
        float, typer.Option(help="With --sequence: time limit per line-day, seconds.")
    ] = 1.0,
    sequence_rounds: Annotated[
        int,
        typer.Option(
            min=1,
            help="With --sequence: plans made at most; after each, the days that need empty "
            "carriers beyond their slots lose them and the book is planned again (1: never).",
        ),
    ] = 3,
) -> None:
    """Plan an order book: writes OUT/plan.parquet, OUT/plan.csv and OUT/summary.json.
    Rejected rows are listed and skipped; exit code 1 if there are any."""
    refuse_file_output(output)
    with steps() as say:
        p = read_and_plan(
            scenario, orders, say, rest=f"all in {output / 'summary.json'}", as_of=as_of
        )
        done = api.plan_sequenced(p, sequence_rounds, sequence_seconds, say) if sequence else None
        p = done.plan if done is not None else p
        say("writing outputs")
        paths = _write_plan_and_chart(p, output)
    print_summary(api.summary(p))
    if done is not None:
        d = done.sequences.days
        bad = d.filter(pl.col("violations") > 0)
        out.print(
            f"Sequenced {d.height:,} line-days ({int(d['cars'].sum()):,} cars, "
            f"{float(d['seconds'].sum()):.1f} s): {bad.height:,} with a window over a "
            f"station's capacity, {int(d['empty_carriers'].sum()):,} empty carriers needed"
            + (
                f" (most on {bad.sort('empty_carriers', descending=True)['line'][0]} "
                f"{bad.sort('empty_carriers', descending=True)['day'][0]})"
                if bad.height
                else ""
            )
            + (
                f"; {counted(int(d['runs_over_batch'].sum()), 'run')} of one colour over "
                "a paint batch limit"
                if int(d["runs_over_batch"].fill_null(0).sum())
                else ""
            )
            + (
                f"; {done.rounds} plans, {sum(done.lost.values()):,} slots taken off "
                f"{len(done.lost):,} line-days"
                if done.rounds > 1
                else ""
            )
        )
        paths |= write_plan_sequence(done.sequences, output)
    print_paths(paths)
    exit_if_rejected(p.book, accept_rejected)


@commands.command()
def roll(
    scenario: ScenarioArg,
    orders: OrdersArg,
    to: Annotated[
        str, typer.Option("--to", help="The day to roll to: a date such as 2026-12-03, or 'today'.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-rolled"
    ),
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
) -> None:
    """Roll the book forward: writes OUT/scenario.yaml (as_of: the day) and OUT/orders.csv
    as they stand on that day if the plan held (built, shipped and delivered orders,
    the new frozen zone). Planning them changes no promise."""
    refuse_file_output(output)
    day = parse_day(to, "--to")
    with steps() as say:
        p = read_and_plan(scenario, orders, say, as_of=as_of)
        say(f"rolling to {day}")
        rolled = api.roll_plan(p, day)
        paths = write_roll(rolled, output)
    counts = rolled.counts()
    out.print(
        f"Rolled to {day}: "
        + ", ".join(f"{n:,} {status}" for status, n in counts.items())
        + f" ({len(rolled.book):,} orders)"
    )
    print_paths(paths)
    exit_if_rejected(p.book, accept_rejected)


@commands.command()
def quote(
    scenario: ScenarioArg,
    orders: OrdersArg,
    model: Annotated[str, typer.Option(help="Model, e.g. YU7.")],
    variant: Annotated[str, typer.Option(help="Variant, e.g. Max.")],
    market: Annotated[str, typer.Option(help="Market, e.g. CN-east.")],
    option: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME=VALUE", help="An option as NAME=VALUE; repeat for more."),
    ] = None,
    when: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM-DDTHH:MM",
            help="Lock time (default: the plan's moment: the scenario's as_of, else now).",
        ),
    ] = None,
    priority: Annotated[int, typer.Option(help="Priority class (smaller first).")] = 0,
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
) -> None:
    """Quote a new order: the build and delivery date it would get if locked now."""
    with steps() as say:
        p = read_and_plan(scenario, orders, say, as_of=as_of)
        say("quoting")
        options = api.parse_options(option or [], "--option")
        q = api.quote(p, model, variant, market, options, parse_when(when), priority=priority)
    for note in api.unheard_options(p, options):
        err.print(f"[yellow]note: --option: {note}[/]", highlight=False)
    if q.build_date is None:
        out.print(f"No date for {model} {variant} to {market}: {q.reason}")
    else:
        out.print(
            f"{model} {variant} to {market}, locked {q.locked_at:%Y-%m-%d %H:%M}: built "
            f"{q.build_date} on {q.line} ({q.plant}), delivered [bold]{q.delivery_date}[/] "
            f"(wait {q.wait_days} days, queue position {q.queue_position:,})"
            + (f"; held back by {q.bound_by}" if q.bound_by else "")
        )
    exit_if_rejected(p.book, accept_rejected)


@commands.command()
def explain(
    scenario: ScenarioArg,
    orders: OrdersArg,
    order_id: str,
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
) -> None:
    """Explain an order's date: its queue position and what bound it."""
    with steps() as say:
        p = read_and_plan(scenario, orders, say, as_of=as_of)
        say("explaining")
        e = api.explain(p, order_id)
    out.print(e.text(), highlight=False)
    exit_if_rejected(p.book, accept_rejected)


@commands.command()
def validate(
    scenario: ScenarioArg,
    orders: Annotated[
        Path | None, typer.Argument(help="Order book to check too (or 'demo').")
    ] = None,
) -> None:
    """Check a scenario (and an order book) without planning; exit 1 if rows are rejected."""
    s = api.load_scenario(scenario)
    lines = sum(len(p.lines) for p in s.plants)
    out.print(
        f"{scenario}: valid: {counted(len(s.products), 'model')}, "
        f"{counted(len(s.plants), 'plant')}, {counted(lines, 'line')}, "
        f"{counted(len(s.parts), 'part')}, {counted(len(s.mix_limits), 'mix limit')}, "
        f"{counted(len(s.markets), 'market')}, {counted(s.horizon_days, 'day')} from {s.start}"
    )
    for w in api.lane_warnings(s):
        out.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    if orders is None:
        return
    book = read_book(scenario, s, orders)
    print_rejected(book, limit=1000, rest="the first 1,000 are shown")
    out.print(book.summary())
    if book.rejected:
        raise typer.Exit(1)


@commands.command()
def generate(
    output: Annotated[Path, typer.Argument(help="Order book to write, .csv or .parquet.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2025,
) -> None:
    """Write the demo's synthetic order book (SU7 backlog, YU7 launch surge) to a file."""
    from promiseline.demo import demo_orders
    from promiseline.io.order_book import write_orders

    with steps() as say:
        say("generating orders")
        book = demo_orders(seed)
        say("writing")
        path = write_orders(book, output)
    out.print(f"Wrote {book.height:,} orders to {path}")
