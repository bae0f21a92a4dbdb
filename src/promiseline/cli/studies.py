"""Commands that plan the book more than once to answer a question: compare (what-ifs side
by side), size (the capacity a wait target needs), allocate (export quotas)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import polars.selectors as cs
import typer
from rich.markup import escape

from promiseline import api
from promiseline.cli.readouts import print_outlook
from promiseline.cli.shared import (
    AcceptRejected,
    AsOfOpt,
    OrdersArg,
    ScenarioArg,
    exit_if_rejected,
    frame_table,
    out,
    print_paths,
    read_inputs,
    refuse_file_output,
    steps,
    table,
)
from promiseline.errors import AllocationError, InvalidRequestError, counted
from promiseline.io.outputs import (
    write_allocation,
    write_day_sequence,
    write_roadef,
    write_sequences,
)

if TYPE_CHECKING:
    from promiseline.core.sequencing.day import DaySequence

commands = typer.Typer()


@commands.command()
def compare(
    scenario: ScenarioArg,
    orders: OrdersArg,
    patches: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATCH",
            help="What-if patches: YAML files, or the demo's built-in ones by name "
            "(red-sea-closed, second-weekly-sailing, homologation-slip, build-at-their-turn).",
        ),
    ],
    at: Annotated[
        list[str] | None,
        typer.Option(metavar="YYYY-MM-DD", help="Backlog on these dates (repeat for more)."),
    ] = None,
    futures: Annotated[int, typer.Option(help="Also simulate each (Monte Carlo futures).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo runs.")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the charts.")] = Path(
        "promiseline-compare"
    ),
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
) -> None:
    """Plan (and with --futures simulate) the order book on the scenario and on each
    what-if; print them side by side."""
    from promiseline.charts import compare_charts

    with steps() as say:
        say("planning each scenario")
        s, book = read_inputs(scenario, orders, as_of)
        cmp = api.compare(s, book, patches)
        say("writing charts")
        paths = compare_charts(cmp, output)
        odds = None
        if futures:
            say(f"simulating each scenario ({futures} futures)")
            odds = cmp.simulated_waits(futures, seed)
    dates = [dt.date.fromisoformat(d) for d in at] if at else None
    months = cmp.deliveries_by_month().with_columns(pl.col("month").dt.strftime("%Y-%m"))
    span = f", {months['month'][0]} through {months['month'][-1]}" if months.height else ""
    first, last = cmp.utilization_period()
    for title, df in (
        ("Wait in days, median and P90", cmp.waits()),
        (f"Deliveries per month{span} (every month)", months),
        ("Orders waiting to be built", cmp.backlog_at(dates)),
        (
            f"Line utilization from {first} through {last} (to the last build of any)",
            cmp.utilization(),
        ),
    ):
        out.print(frame_table(title, df))
    if odds is not None:
        out.print(
            frame_table(
                f"Monte Carlo ({futures} futures): median of each order's P90 wait, days", odds
            )
        )
    if cmp.by_sea:
        print_outlook(cmp.export_outlook())
    found = cmp.reasons()
    if found:
        out.print("[bold]Why the waits moved[/] (each group whose median or P90 moved > 3 days)")
        for r in found:
            out.print(f"- {escape(r.text())}", highlight=False)
    for w in cmp.warnings:
        out.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    print_paths(paths)
    exit_if_rejected(book, accept_rejected)


@commands.command()
def size(
    scenario: ScenarioArg,
    orders: OrdersArg,
    target: Annotated[str, typer.Option(help='e.g. "p90_wait<=180d from 2026-01-01"')] = (
        "p90_wait<=180d"
    ),
    levers: Annotated[str, typer.Option(help="Lever kinds: shifts,lines,parts.")] = (
        "shifts,lines,parts"
    ),
    futures: Annotated[int, typer.Option(help="Also check with a Monte Carlo run.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo check.")] = 0,
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
) -> None:
    """Find the least-cost capacity additions that meet a wait target (HiGHS + planner);
    exit code 1 if the target is not met or rows of the order book were rejected."""
    with steps() as say:
        s, book = read_inputs(scenario, orders, as_of)
        say("sizing (MIP on weekly buckets, then the planner)")
        r = api.size(s, book, target, levers=levers.split(","))
        sim = None
        if futures and r.met:
            say(f"checking with {futures} Monte Carlo futures")
            sim = api.simulate(r.plan.scenario, r.plan, futures=futures, seed=seed)
    verdict = "[green]met[/]" if r.met else "[red]not met[/]"
    out.print(
        f"Target {r.target}: {verdict}. Without additions {r.baseline:.0f} days; "
        f"with them {r.achieved:.0f} days (by the planner)."
    )
    out.print(
        table(
            f"Capacity to add (cost {r.cost:,.0f} in the levers' cost units)",
            ("lever", "kind", "from", "units", "cost"),
            (
                (a["lever"], a["kind"], str(a["start"]), str(a["units"]), f"{a['cost']:,.0f}")
                for a in r.additions()
            ),
            left=3,
        )
    )
    out.print(r.note, highlight=False)
    if sim is not None:
        for p in (50, 90):
            out.print(
                f"Monte Carlo ({sim.futures} futures), using each order's P{p} delivery: "
                f"{r.target.measure_simulation(sim, p):.0f} days"
            )
    exit_if_rejected(book, accept_rejected)
    if not r.met:
        raise typer.Exit(1)


def parse_p90_target(text: str) -> int:
    """'<=270d', '270d' or '270' -> 270 days."""
    t = text.strip().removeprefix("<=").strip().removesuffix("d").strip()
    if not t.isdigit():
        raise AllocationError(
            f"--domestic-p90: expected e.g. '<=270d', '270d' or '270', got {text!r}"
        )
    return int(t)


def parse_month_span(text: str | None) -> tuple[dt.date, dt.date] | None:
    """'2027-01..2027-12' -> first days of both months."""
    if text is None:
        return None
    try:
        a, b = (dt.date.fromisoformat(p.strip() + "-01") for p in text.split(".."))
    except ValueError:
        raise AllocationError(f"--months: expected e.g. '2027-01..2027-12', got {text!r}") from None
    return a, b


@commands.command()
def allocate(
    scenario: ScenarioArg,
    orders: OrdersArg,
    domestic_p90: Annotated[
        str, typer.Option("--domestic-p90", help='Domestic P90 wait target, e.g. "<=270d".')
    ],
    months: Annotated[
        str | None,
        typer.Option(
            help="Months to allocate, e.g. 2027-01..2027-12 (default: 12 months "
            "from the first export sailing)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Folder for quotas.csv, scenario.yaml, summary.json."),
    ] = None,
    accept_rejected: AcceptRejected = False,
    as_of: AsOfOpt = None,
) -> None:
    """How many cars each export market gets per month: the most margin (HiGHS) whose plan
    keeps the domestic P90 wait within the target, checked by the planner. Exit code 1 if
    the target is not met or rows of the order book were rejected."""
    refuse_file_output(output)
    target, span = parse_p90_target(domestic_p90), parse_month_span(months)
    with steps() as say:
        s, book = read_inputs(scenario, orders, as_of)
        a = api.allocate(s, book, domestic_p90_days=target, months=span, progress=say)
    grid = a.quotas_by_month()
    out.print(
        table(
            f"Monthly export quotas, cars departing (margin {a.margin:,.0f} in the "
            "markets' price units)",
            grid.columns,
            ((r[0], *(f"{v:,}" for v in r[1:])) for r in grid.iter_rows()),
        )
    )
    verdict = "[green]met[/]" if a.met else "[red]not met[/]"
    p50 = "-" if a.domestic_p50 is None else f"{a.domestic_p50:.0f}"
    p90 = "-" if a.domestic_p90 is None else f"{a.domestic_p90:.0f}"
    out.print(
        f"Domestic P90 <= {target} days: {verdict}. Planned domestic orders "
        f"{a.domestic_orders:,}: P50 {p50} days, P90 {p90} days (by the planner; "
        + (
            "the target did not limit export)."
            if a.w_lp is None
            else f"every home order built within {a.w_lp} days of its lock, less lead days)."
        )
    )
    busy = a.verified.filter(pl.any_horizontal(cs.numeric().fill_null(0) != 0))
    idle = a.verified.height - busy.height
    title = "Verification by the planner: quota and departures" + (
        f" (not shown: {idle} market-month{'s' if idle > 1 else ''} with no quota and no departure)"
        if idle
        else ""
    )
    out.print(frame_table(title, busy))
    if a.export_waits.height:
        out.print(frame_table("Export waits (days)", a.export_waits))
    out.print(a.note, highlight=False)
    if output is not None:
        print_paths(write_allocation(a, output))
    exit_if_rejected(book, accept_rejected)
    if not a.met:
        raise typer.Exit(1)


@commands.command()
def sequence(
    scenario: Annotated[
        Path | None, typer.Argument(metavar="SCENARIO", help="A scenario, with ORDERS.")
    ] = None,
    orders: Annotated[
        Path | None, typer.Argument(metavar="ORDERS", help="Its order book (plan one day).")
    ] = None,
    csplib: Annotated[
        Path | None,
        typer.Option(
            "--csplib", help="A CSPLib prob001 file (car sequencing; every instance in it)."
        ),
    ] = None,
    roadef: Annotated[
        Path | None,
        typer.Option(
            "--roadef",
            help="A ROADEF 2005 (Renault) instance directory, or a directory of them.",
        ),
    ] = None,
    line: Annotated[str | None, typer.Option(help="With SCENARIO ORDERS: the line.")] = None,
    day: Annotated[
        str | None, typer.Option(help="With SCENARIO ORDERS: the day, YYYY-MM-DD.")
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the results.")] = Path(
        "promiseline-sequence"
    ),
    seconds: Annotated[float, typer.Option(help="Time limit per instance, seconds.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the local search.")] = 0,
    as_of: AsOfOpt = None,
) -> None:
    """Sequence cars so that no station gets more than p of q consecutive cars: every
    instance of a car sequencing file (--csplib), a ROADEF 2005 day with paint colours
    and its batch limit (--roadef DIR), or the cars a plan builds on one line and day
    (SCENARIO ORDERS --line L --day D, under the line's stations); writes sequence.csv and
    summary.json."""
    if csplib is not None or roadef is not None:
        if scenario is not None or line or day or (csplib is not None and roadef is not None):
            raise InvalidRequestError(
                "give --csplib FILE, --roadef DIR, or SCENARIO ORDERS --line --day: one of them"
            )
        if roadef is not None:
            _sequence_roadef(roadef, output, seconds, seed)
        else:
            assert csplib is not None
            _sequence_file(csplib, output, seconds, seed)
        return
    if scenario is None or orders is None or not line or not day:
        missing = [n for n, v in (("--line", line), ("--day", day)) if not v]
        raise InvalidRequestError(
            "give --csplib FILE, --roadef DIR, or SCENARIO ORDERS --line LINE --day YYYY-MM-DD"
            + (f" ({' and '.join(missing)} missing)" if scenario is not None and missing else "")
        )
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        raise InvalidRequestError(f"--day must be YYYY-MM-DD, got {day!r}") from None
    with steps() as say:
        say("planning the order book")
        s, book = read_inputs(scenario, orders, as_of)
        plan = api.plan(s, book)
        say(f"sequencing {line} on {when}")
        done = api.sequence_day(plan, line, when, seconds=seconds)
    r = done.result
    each = ", ".join(f"{n} {w}" for n, w in zip(done.stations, r.score.windows, strict=True))
    out.print(
        f"{line} on {when}: {len(done.table):,} cars, {r.score.total:,} windows over a "
        f"station's capacity ({each}); "
        f"{'proved least' if r.proved else 'not proved least'}, {r.method}, {r.seconds:.2f} s"
        + (
            f"; {done.paint.color:,} colour changes, {done.paint.batch_violations:,} runs over "
            "the paint batch limit"
            if done.paint is not None
            else ""
        ),
        highlight=False,
    )
    out.print(strip(done), highlight=False)
    print_paths(write_day_sequence(done, output))


def strip(done: DaySequence, width: int = 60) -> str:
    """The first carriers as a strip: one letter per car, the initial of each station it
    needs ('.' none, '*' several), '_' an empty carrier; `width` a row, at most three rows."""
    shown = done.table.filter(pl.col("position") <= 3 * width)
    carriers = int(done.result.sequence.size)
    cells = ["_"] * min(3 * width, carriers)
    for row in shown.iter_rows(named=True):
        marks = "".join(n[0] for n in done.stations if row[n]) or "."
        cells[row["position"] - 1] = marks if len(marks) == 1 else "*"
    rows = ["".join(cells[i : i + width]) for i in range(0, len(cells), width)]
    key = ", ".join(f"{n[0]} {n}" for n in done.stations)
    gaps = "; _ empty carrier" if "_" in cells else ""
    more = f"the first {len(cells):,} of {carriers:,} carriers; " if carriers > len(cells) else ""
    return "\n".join(rows) + f"\n({more}{key}; * several, . none{gaps})"


def _sequence_roadef(roadef: Path, output: Path, seconds: float, seed: int) -> None:
    with steps() as say:
        done = api.sequence_roadef(roadef, seconds=seconds, seed=seed, progress=say)
    out.print(
        table(
            f"Sequenced {counted(len(done), 'ROADEF 2005 instance')} of {roadef.name} "
            "(objective: weights 1,000,000 / 1,000 / 1 by the instance's ranks)",
            (
                "instance",
                "cars",
                "ranks",
                "objective",
                "HPRC",
                "colour changes",
                "LPRC",
                "batches over",
                "seconds",
            ),
            (
                (
                    s.instance,
                    f"{d.cars:,}",
                    " > ".join(d.objectives),
                    f"{s.score.objective:,}",
                    f"{s.score.hprc:,}",
                    f"{s.score.color:,}",
                    f"{s.score.lprc:,}",
                    f"{s.score.batch_violations:,}",
                    f"{s.seconds:.2f}",
                )
                for d, s in done
            ),
            left=1,
        )
    )
    print_paths(write_roadef(done, output))


def _sequence_file(csplib: Path, output: Path, seconds: float, seed: int) -> None:
    with steps() as say:
        done = api.sequence_csplib(csplib, seconds=seconds, seed=seed, progress=say)
    for r, _ in done:
        if r.assumed:
            out.print(f"{escape(r.instance.name)}: {escape(r.assumed)}", highlight=False)
    out.print(
        table(
            f"Sequenced {counted(len(done), 'instance')} of {csplib.name} "
            "(violations: windows over capacity)",
            ("instance", "cars", "violations", "proved least", "method", "seconds"),
            (
                (
                    s.instance,
                    f"{r.instance.cars:,}",
                    f"{s.score.total:,}",
                    "yes" if s.proved else "no",
                    s.method,
                    f"{s.seconds:.2f}",
                )
                for r, s in done
            ),
            left=1,
        )
    )
    print_paths(write_sequences(done, output))
