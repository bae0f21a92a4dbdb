"""Command line: parse arguments, call the public API, print with rich. No planning here."""

from __future__ import annotations

import datetime as dt
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from promiseline import api
from promiseline.core.orders import OrderBook
from promiseline.core.plan import Plan
from promiseline.errors import PromiselineError

app = typer.Typer(
    help="promiseline: plan every order of a surge into a build slot, with honest dates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
_state = {"debug": False}

ScenarioArg = Annotated[
    Path,
    typer.Argument(help="Scenario YAML file (docs/SCENARIO.md), or 'demo' for the embedded one."),
]
OrdersArg = Annotated[Path, typer.Argument(help="Order book, .csv or .parquet.")]


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@contextmanager
def _steps() -> Iterator[Callable[[str], None]]:
    """A spinner with elapsed time; each call names the step now running."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)
        yield lambda what: bar.update(task, description=what)


def _rejections(book: OrderBook, limit: int = 20) -> None:
    if not book.rejected:
        return
    err.print(f"[yellow]{len(book.rejected):,} row(s) rejected in {book.source}:[/]")
    for r in book.rejected[:limit]:
        err.print(f"  {r}", markup=False, highlight=False)
    if len(book.rejected) > limit:
        err.print(f"  ... and {len(book.rejected) - limit:,} more (all listed in summary.json)")


def _load(scenario: Path | None, orders: Path | Any, say: Callable[[str], None]) -> Plan:
    say("loading scenario")
    s = api.load_scenario(scenario)
    say("reading orders")
    book = api.load_orders(orders, s) if isinstance(orders, Path) else orders
    if isinstance(book, OrderBook):
        _rejections(book)
    return api.plan(s, book, progress=say)


def _table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1
) -> Table:
    """A rich table: the first `left` columns left-aligned, the rest (figures) right."""
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i < left else "right")
    for row in rows:
        t.add_row(*row)
    return t


def _frame_table(title: str, df: pl.DataFrame) -> Table:
    """A polars frame as a table, text columns first."""
    left = sum(1 for c in df.columns if not df.schema[c].is_numeric())
    return _table(title, df.columns, ([_cell(v) for v in row] for row in df.iter_rows()), left)


def print_summary(plan: Plan) -> None:
    """Waits, delivery dates, binding constraints and line utilization."""
    sm = plan.summary()
    o = sm["orders"]
    out.print(
        f"[bold]{sm['scenario']}[/]: {o['planned']:,} orders planned, {o['unplanned']:,} "
        f"unplanned, {o['reserved_quoted']:,} reserved (quoted only), {o['rejected']:,} rows "
        f"rejected; deliveries from {sm['first_delivery']} to {sm['last_delivery']}"
    )
    waits = Table(title="Waits from lock to delivery (days)", title_justify="left")
    for col in ("model", "variant", "orders", "median", "P90", "max"):
        waits.add_column(col, justify="right" if col not in ("model", "variant") else "left")
    for r in sm["waits_by_model"]:
        waits.add_row(r["model"], "[dim]all[/]", *_wait_cells(r), style="bold")
        for v in sm["waits_by_variant"]:
            if v["model"] == r["model"]:
                waits.add_row("", v["variant"], *_wait_cells(v))
    out.print(waits)
    held = [(name, f"{n:,}") for name, n in sm["bound_by"].items()] or [
        ("[dim]nothing: every order built on its first possible day[/]", "0")
    ]
    out.print(_table("What held orders back", ("binding constraint", "orders delayed"), held))
    out.print(
        _table(
            f"Line utilization through {sm['utilization_through']}",
            ("plant", "line", "built", "capacity in horizon", "utilization"),
            (
                (
                    r["plant"],
                    r["line"],
                    f"{r['built']:,}",
                    f"{r['capacity']:,}",
                    f"{r['utilization']:.1%}",
                )
                for r in sm["lines"]
            ),
            left=2,
        )
    )


def _wait_cells(r: dict[str, Any]) -> list[str]:
    return [
        f"{r['orders']:,}",
        f"{r['median_wait_days']:.0f}",
        f"{r['p90_wait_days']:.0f}",
        f"{r['max_wait_days']:,}",
    ]


def _written(paths: dict[str, Path]) -> None:
    out.print("Wrote " + ", ".join(str(p) for p in paths.values()))


@app.command()
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-demo"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic order book.")] = 2025,
    futures: Annotated[int, typer.Option(help="Monte Carlo futures.")] = 20,
) -> None:
    """Plan the embedded demo: the YU7 launch surge on top of the SU7 backlog, then a short
    Monte Carlo run and its charts."""
    from promiseline.demo import demo_orders

    with _steps() as say:
        say("generating the launch surge")
        s = api.load_scenario(None)
        orders = demo_orders(seed)
        p = api.plan(s, orders, progress=say)
        say("writing outputs")
        paths = _write(p, output)
        if futures:
            say(f"Monte Carlo: {futures} futures")
            sim = api.simulate(s, p, futures=futures, seed=seed)
            say("writing charts")
            paths |= write_simulation(sim, output)
    print_summary(p)
    if futures:
        print_simulation(sim)
    _written(paths)


def _write(plan: Plan, output: Path) -> dict[str, Path]:
    from promiseline.io.plan_files import write_plan

    return write_plan(plan, output)


@app.command("plan")
def plan_cmd(
    scenario: ScenarioArg,
    orders: OrdersArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-plan"
    ),
) -> None:
    """Plan an order book: writes OUT/plan.parquet, OUT/plan.csv and OUT/summary.json."""
    with _steps() as say:
        p = _load(scenario, orders, say)
        say("writing outputs")
        paths = _write(p, output)
    print_summary(p)
    _written(paths)


def _when(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise PromiselineError(
            f"--when: expected an ISO 8601 date-time such as 2025-07-01T10:00, got {text!r}"
        ) from None


@app.command()
def quote(
    scenario: ScenarioArg,
    orders: OrdersArg,
    model: Annotated[str, typer.Option(help="Model, e.g. YU7.")],
    variant: Annotated[str, typer.Option(help="Variant, e.g. Max.")],
    market: Annotated[str, typer.Option(help="Market, e.g. CN-east.")],
    option: Annotated[
        list[str] | None, typer.Option(help="An option as NAME=VALUE; repeat for more.")
    ] = None,
    when: Annotated[str | None, typer.Option(help="Lock time (default: now).")] = None,
    priority: Annotated[int, typer.Option(help="Priority class (smaller first).")] = 0,
) -> None:
    """Quote a new order: the build and delivery date it would get if locked now."""
    with _steps() as say:
        p = _load(scenario, orders, say)
        say("quoting")
        q = api.quote(
            p,
            model,
            variant,
            market,
            api.parse_options(option or [], "--option"),
            _when(when),
            priority=priority,
        )
    if q.build_date is None:
        out.print(f"No date for {model} {variant} to {market}: {q.reason}")
        return
    out.print(
        f"{model} {variant} to {market}, locked {q.locked_at:%Y-%m-%d %H:%M}: built "
        f"{q.build_date} on {q.line} ({q.plant}), delivered [bold]{q.delivery_date}[/] "
        f"(wait {q.wait_days} days, queue position {q.queue_position:,})"
        + (f"; held back by {q.bound_by}" if q.bound_by else "")
    )


@app.command()
def explain(scenario: ScenarioArg, orders: OrdersArg, order_id: str) -> None:
    """Explain an order's date: its queue position and what bound it."""
    with _steps() as say:
        p = _load(scenario, orders, say)
        say("explaining")
        e = api.explain(p, order_id)
    out.print(e.text(), highlight=False)


@app.command()
def validate(
    scenario: ScenarioArg,
    orders: Annotated[Path | None, typer.Argument(help="Order book to check too.")] = None,
) -> None:
    """Check a scenario (and an order book) without planning; exit 1 if rows are rejected."""
    s = api.load_scenario(scenario)
    lines = sum(len(p.lines) for p in s.plants)
    out.print(
        f"{scenario}: valid: {len(s.products)} model(s), {len(s.plants)} plant(s), "
        f"{lines} line(s), {len(s.parts)} part(s), {len(s.mix_limits)} mix limit(s), "
        f"{len(s.markets)} market(s), {s.horizon_days} days from {s.start}"
    )
    if orders is None:
        return
    book = api.load_orders(orders, s)
    _rejections(book, limit=1000)
    out.print(book.summary())
    if book.rejected:
        raise typer.Exit(1)


@app.command()
def generate(
    output: Annotated[Path, typer.Argument(help="Order book to write, .csv or .parquet.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2025,
) -> None:
    """Write the demo's synthetic order book (SU7 backlog, YU7 launch surge) to a file."""
    from promiseline.demo import demo_orders
    from promiseline.io.order_book import write_orders

    with _steps() as say:
        say("generating orders")
        book = demo_orders(seed)
        say("writing")
        path = write_orders(book, output)
    out.print(f"Wrote {book.height:,} orders to {path}")


DbOpt = Annotated[
    str, typer.Option("--db", help="Database URL: sqlite:///FILE or postgresql://...")
]


@app.command()
def serve(
    scenario: Annotated[
        Path | None, typer.Option(help="Scenario YAML (default: the stored one, else the demo).")
    ] = None,
    db: DbOpt = "sqlite:///promiseline.db",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use PostgreSQL for >1).")] = 1,
    admin_key: Annotated[
        str | None, typer.Option(envvar="PROMISELINE_ADMIN_KEY", help="Register this admin key.")
    ] = None,
    webhook: Annotated[str | None, typer.Option(help="POST eta_changed events here.")] = None,
    debounce: Annotated[float, typer.Option(help="Seconds between a change and re-plan.")] = 1.0,
) -> None:
    """Run the order service (FastAPI + uvicorn)."""
    import os

    import uvicorn

    from promiseline.service.main import Settings
    from promiseline.store import open_store

    if scenario is not None:
        api.load_scenario(scenario)  # fail fast, one clear line
    open_store(db).close()  # reachable, and migrated once before workers start
    settings = Settings(
        db=db,
        scenario=str(scenario) if scenario else None,
        admin_key=admin_key,
        webhook=webhook,
        debounce_s=debounce,
    )
    os.environ.update(settings.to_env())
    err.print(f"promiseline service on http://{host}:{port} ({workers} worker(s), {db})")
    uvicorn.run(
        "promiseline.service.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command()
def key(
    role: Annotated[str, typer.Argument(help="planner or admin")],
    db: DbOpt = "sqlite:///promiseline.db",
) -> None:
    """Create an API key directly in the database (to bootstrap an admin)."""
    import secrets

    from promiseline.service.desk import OrderDesk
    from promiseline.store import open_store

    if role not in ("planner", "admin"):
        raise PromiselineError(f"role must be planner or admin, got {role!r}")
    store = open_store(db)
    secret = f"pl_{role}_{secrets.token_urlsafe(24)}"
    key_id = f"key_{secrets.token_hex(6)}"
    store.add_key(key_id, OrderDesk.hash_key(secret), role, dt.datetime.now())
    store.close()
    out.print(f"{key_id} ({role}): {secret}", highlight=False)


@app.command("import")
def import_orders(
    orders: OrdersArg,
    db: DbOpt = "sqlite:///promiseline.db",
    scenario: Annotated[Path | None, typer.Option(help="Scenario to check against.")] = None,
) -> None:
    """Load an order book file into the database: every good row, in one transaction."""
    from promiseline.store import open_store

    s = api.load_scenario(scenario)
    book = api.load_orders(orders, s)
    _rejections(book)
    store = open_store(db)
    try:
        n = store.import_orders(book.table, dt.datetime.now())
    except Exception as e:  # the whole import rolled back
        raise PromiselineError(f"import failed, nothing was written: {e}") from None
    finally:
        store.close()
    out.print(f"imported {n:,} orders into {db}")


@app.command("export")
def export_orders(
    output: Annotated[Path, typer.Argument(help="Order book to write, .csv or .parquet.")],
    db: DbOpt = "sqlite:///promiseline.db",
) -> None:
    """Write every order in the database as an order book (any status)."""
    from promiseline.io.order_book import write_orders
    from promiseline.store import open_store

    store = open_store(db, migrate=False)
    table = store.export_orders()
    store.close()
    write_orders(table, output)
    out.print(f"exported {table.height:,} orders to {output}")


@app.command()
def surge(
    url: Annotated[str, typer.Option(help="Service base URL.")] = "http://127.0.0.1:8000",
    orders: Annotated[int, typer.Option(help="Orders to send.")] = 10_000,
    concurrency: Annotated[int, typer.Option(help="Open connections.")] = 64,
    threads: Annotated[int, typer.Option(help="wrk threads.")] = 2,
    verify_db: Annotated[
        str | None, typer.Option(help="Database URL of the service, to verify the orders.")
    ] = None,
) -> None:
    """Replay a launch surge (wrk), print throughput and latency, verify the store."""
    from promiseline.loadtest import run_surge, verify

    with _steps() as say:
        say(f"sending {orders:,} orders over {concurrency} connections")
        res = run_surge(url, orders, concurrency, threads=threads)
    for line in res.lines():
        out.print(line, highlight=False)
    if verify_db:
        v = verify(verify_db, res.acks)
        out.print(v.line(), highlight=False)
        if not v.ok:
            raise typer.Exit(1)


OrdersOpt = Annotated[
    Path | None, typer.Option("--orders", help="Order book (default: the demo's, generated).")
]


def _orders_or_demo(orders: Path | None) -> Any:
    if orders is not None:
        return orders
    from promiseline.demo import demo_orders

    return demo_orders()


def print_simulation(sim: Any) -> None:
    sm = sim.summary()
    out.print(
        _table(
            f"Monte Carlo: {sm['futures']} futures (seed {sm['seed']}), "
            f"{sm['new_orders_mean']:,.0f} new orders a future on average",
            ("model", "variant", "orders", "median P50 wait", "median P90 wait", "cancel"),
            (
                (
                    r["model"],
                    r["variant"],
                    f"{r['orders']:,}",
                    f"{r['median_of_p50_wait']:.0f} d",
                    f"{r['median_of_p90_wait']:.0f} d",
                    f"{r['cancel_share']:.1%}",
                )
                for r in sm["by_variant"]
            ),
            left=2,
        )
    )
    out.print(
        _table(
            "How often each constraint holds orders back",
            ("constraint", "futures where it binds", "orders held, mean"),
            (
                (r["constraint"], f"{r['binds_share']:.0%}", f"{r['orders_mean']:,.0f}")
                for r in sm["constraints"][:8]
            ),
        )
    )


def write_simulation(sim: Any, output: Path) -> dict[str, Path]:
    import json

    from promiseline.charts import plan_charts

    output.mkdir(parents=True, exist_ok=True)
    paths = {
        "windows": output / "windows.parquet",
        "bands": output / "bands.parquet",
        "simulation": output / "simulation.json",
    }
    sim.orders().write_parquet(paths["windows"])
    sim.bands().write_parquet(paths["bands"])
    paths["simulation"].write_text(json.dumps(sim.summary(), indent=2, default=str) + "\n")
    for name, p in plan_charts(sim.base, output, sim).items():
        paths[name] = p
    return paths


@app.command()
def simulate(
    scenario: ScenarioArg,
    orders: Annotated[Path | None, typer.Argument(help="Order book (default: the demo's).")] = None,
    futures: Annotated[int, typer.Option(help="Futures to sample.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same answer.")] = 0,
    workers: Annotated[int, typer.Option(help="Dask LocalCluster processes (1: none).")] = 1,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:8786.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-simulation"
    ),
) -> None:
    """Monte Carlo delivery windows: P10/P50/P90 dates, cancellations, fan charts."""
    with _steps() as say:
        say("loading")
        s = api.load_scenario(scenario)
        say(f"planning {futures} futures")
        sim = api.simulate(
            s, _orders_or_demo(orders), futures=futures, seed=seed, workers=workers, dask=dask
        )
        say("writing outputs and charts")
        paths = write_simulation(sim, output)
    print_simulation(sim)
    _written(paths)


@app.command()
def compare(
    scenario: ScenarioArg,
    patches: Annotated[list[Path], typer.Argument(help="What-if patches (YAML).")],
    orders: OrdersOpt = None,
    at: Annotated[list[str] | None, typer.Option(help="Backlog on these dates.")] = None,
    futures: Annotated[int, typer.Option(help="Also simulate each (Monte Carlo futures).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo runs.")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the charts.")] = Path(
        "promiseline-compare"
    ),
) -> None:
    """Plan (and with --futures simulate) the order book on the scenario and on each
    what-if; print them side by side."""
    from promiseline.charts import compare_charts
    from promiseline.core.whatif import default_dates

    with _steps() as say:
        say("planning each scenario")
        s = api.load_scenario(scenario)
        cmp = api.compare(s, patches, _orders_or_demo(orders))
        say("writing charts")
        paths = compare_charts(cmp, output)
        odds = None
        if futures:
            say(f"simulating each scenario ({futures} futures)")
            odds = cmp.simulated_waits(futures, seed)
    dates = [dt.date.fromisoformat(d) for d in at] if at else default_dates(s)
    for title, df in (
        ("Wait in days, median and P90", cmp.waits()),
        ("Deliveries per month", cmp.deliveries_by_month()),
        ("Orders waiting to be built", cmp.backlog_at(dates)),
        ("Line utilization", cmp.utilization()),
    ):
        out.print(_frame_table(title, df))
    if odds is not None:
        out.print(
            _frame_table(
                f"Monte Carlo ({futures} futures): median of each order's P90 wait, days", odds
            )
        )
    _written(paths)


@app.command()
def size(
    scenario: ScenarioArg,
    orders: Annotated[Path | None, typer.Argument(help="Order book (default: the demo's).")] = None,
    target: Annotated[str, typer.Option(help='e.g. "p90_wait<=180d from 2026-01-01"')] = (
        "p90_wait<=180d"
    ),
    levers: Annotated[str, typer.Option(help="Lever kinds: shifts,lines,parts.")] = (
        "shifts,lines,parts"
    ),
    futures: Annotated[int, typer.Option(help="Also check with a Monte Carlo run.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo check.")] = 0,
) -> None:
    """Find the least-cost capacity additions that meet a wait target (HiGHS + planner)."""
    with _steps() as say:
        s = api.load_scenario(scenario)
        say("sizing (MIP on weekly buckets, then the planner)")
        r = api.size(s, _orders_or_demo(orders), target, levers=levers.split(","))
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
        _table(
            f"Capacity to add (cost {r.cost:,.0f})",
            ("lever", "kind", "from", "units", "cost"),
            (
                (
                    lv.name,
                    lv.kind,
                    str(r.starts[lv.name]),
                    str(r.units[lv.name]),
                    f"{lv.cost * r.units[lv.name]:,.0f}",
                )
                for lv in s.levers
                if r.units.get(lv.name)
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
    if not r.met:
        raise typer.Exit(1)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.1%}" if 0 <= v <= 1 and not v.is_integer() else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)[:10]


def main() -> None:
    """Entry point: one clear line and exit code 2 on a user error."""
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit
        if isinstance(code, int) and code:
            sys.exit(code)
    except PromiselineError as e:
        if _state["debug"]:
            traceback.print_exc()
        err.print(f"[red]error:[/] {e}", highlight=False)
        details = getattr(e, "problems", [])
        for p in details[1:]:
            err.print(f"       {p}", highlight=False, markup=False)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as e:  # click usage errors and the unexpected
        import click  # type: ignore[import-not-found,unused-ignore]

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(2)
        if _state["debug"]:
            raise
        err.print(f"[red]error:[/] {type(e).__name__}: {e} (run with --debug for details)")
        sys.exit(2)


if __name__ == "__main__":
    main()
