"""Command line: parse arguments, call the public API, print with rich. No planning here."""

from __future__ import annotations

import datetime as dt
import json
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from promiseline import api
from promiseline.core.futures.backtest import Backtest
from promiseline.core.futures.history import History
from promiseline.core.model.orders import OrderBook
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import Plan
from promiseline.errors import AllocationError, PromiselineError, StorageError

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
    typer.Argument(
        metavar="SCENARIO",
        help="Scenario YAML file (docs/SCENARIO.md), or 'demo' for the embedded one.",
    ),
]
OrdersArg = Annotated[
    Path,
    typer.Argument(
        metavar="ORDERS",
        help="Order book, .csv or .parquet, or 'demo' for the demo's generated one (with the "
        "demo scenario only).",
        show_default=False,
    ),
]
AcceptRejected = Annotated[
    bool,
    typer.Option(
        "--accept-rejected",
        help="Exit 0 even if rows of the order book were rejected (they are listed all the same).",
    ),
]


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
        disable=not err.is_terminal,  # elsewhere it would leave a blank line on stderr
    ) as bar:
        task = bar.add_task("starting", total=None)
        yield lambda what: bar.update(task, description=what)


LISTS_ALL = "'promiseline validate' lists them all"


def _rejections(book: OrderBook, limit: int = 20, rest: str = LISTS_ALL) -> None:
    if not book.rejected:
        return
    err.print(f"[yellow]{len(book.rejected):,} row(s) rejected in {book.source}:[/]")
    for r in book.rejected[:limit]:
        err.print(f"  {r}", markup=False, highlight=False, soft_wrap=True)
    if len(book.rejected) > limit:
        err.print(f"  ... and {len(book.rejected) - limit:,} more ({rest})", highlight=False)


def _book(scenario: Path | None, s: Scenario, orders: Path) -> OrderBook:
    """The order book ORDERS names: a file, or 'demo' for the demo's generated book. The
    demo's orders go with the demo scenario only: on another scenario they would be
    planned (or rejected) against lines and markets they were never made for."""
    if str(orders) == "demo":
        if not (scenario is None or str(scenario) == "demo"):
            raise PromiselineError(
                f"ORDERS 'demo' is the demo's order book and goes only with the demo "
                f"scenario; give the order book (.csv or .parquet) for {scenario}"
            )
        from promiseline.demo import demo_orders

        return api.load_orders(demo_orders(), s)
    if orders.suffix.lower() in (".yaml", ".yml"):
        raise PromiselineError(
            f"{orders}: expected an order book (.csv or .parquet) or 'demo' for ORDERS, "
            f"which comes right after SCENARIO"
        )
    return api.load_orders(orders, s)


def _accept(book: OrderBook, accept_rejected: bool) -> None:
    """Exit 1 when rows were rejected unless --accept-rejected: a script must not take
    the answer for a part of the order book as the answer for all of it."""
    if book.rejected and not accept_rejected:
        err.print(
            f"{len(book.rejected):,} row(s) of {book.source} rejected: exit code 1 "
            "(--accept-rejected to exit 0)",
            highlight=False,
        )
        raise typer.Exit(1)


def _load(scenario: Path, orders: Path, say: Callable[[str], None], rest: str = LISTS_ALL) -> Plan:
    say("loading scenario")
    s = api.load_scenario(scenario)
    say("reading orders")
    book = _book(scenario, s, orders)
    _rejections(book, rest=rest)
    return api.plan(s, book, progress=say)


def _table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1
) -> Table:
    """A rich table: the first `left` columns left-aligned, the rest (figures) right."""
    t = Table(title=title, title_justify="left", min_width=len(title))  # title on one line
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
    sm = api.summary(plan)
    o = sm["orders"]
    out.print(
        f"[bold]{sm['scenario']}[/]: {o['planned']:,} orders planned, {o['unplanned']:,} "
        f"unplanned, {o['reserved_quoted']:,} reserved (quoted only), {o['rejected']:,} rows "
        "rejected; "
        + (
            f"deliveries from {sm['first_delivery']} to {sm['last_delivery']}"
            if sm["first_delivery"]
            else "no deliveries planned"
        )
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
            f"Line utilization from {sm['utilization_from']} through {sm['utilization_through']}"
            " (start to last build day)",
            ("plant", "line", "built", "capacity", "utilization"),
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


def _loaded(scenario: Path, orders: Path) -> tuple[Scenario, OrderBook]:
    """The scenario and its order book, the rejected rows listed."""
    s = api.load_scenario(scenario)
    book = _book(scenario, s, orders)
    _rejections(book)
    return s, book


def _written(paths: dict[str, Path]) -> None:
    out.print("Wrote " + ", ".join(str(p) for p in paths.values()))


@app.command()
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-demo"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic order book.")] = 2025,
    futures: Annotated[int, typer.Option(help="Monte Carlo futures.")] = 20,
    calibration: Annotated[
        str, typer.Option(help="Span of the short backtest whose line is printed (0: none).")
    ] = "28d",
) -> None:
    """Plan the embedded demo: the YU7 launch surge on top of the SU7 backlog, then a short
    Monte Carlo run and its charts, and a short backtest of the promises."""
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
        span = 0 if calibration.strip() in ("0", "0d") else _days(calibration)
        if futures and span:
            say("backtest")
            bt = api.backtest(
                s,
                orders,
                futures=futures,
                every_days=max(1, span // 2),
                span_days=span,
                seed=seed,
                progress=say,
            ).to_json()
            paths["backtest"] = output / "backtest.json"
            paths["backtest"].write_text(json.dumps(bt, indent=2) + "\n", encoding="utf-8")
    print_summary(p)
    if p.capacity.sea.lane_names:
        with _steps() as say:
            say("export: planning without it and each built-in what-if")
            effects = export_effects(s, orders, p)
        print_export(p, effects)
    if futures:
        print_simulation(sim)
        if span:
            out.print(calibration_line(bt))
    _written(paths)


def export_effects(s: Scenario, orders: pl.DataFrame, base: Plan) -> pl.DataFrame:
    """The export outlook of the plan, of the book without export, and of each built-in
    what-if."""
    from promiseline.core.readout.export_outlook import home_only, outlooks
    from promiseline.io.scenario_file import builtin_whatifs

    plans = [("plan", base), ("no export", api.plan(s, home_only(orders, base)))]
    for name in builtin_whatifs():
        plans.append((name, api.plan(api.patched(s, name, api.load_patch(name)), orders)))
    return outlooks(plans)


def print_export(p: Plan, effects: pl.DataFrame) -> None:
    """Sailings per lane, waits per market, the port yards, and what export and the
    built-in what-ifs do to waits at home and abroad."""
    from promiseline.core.readout.export_outlook import export_summary

    ex = export_summary(p)
    out.print(
        _table(
            "Export by sea: sailings per lane (through the last one that carries cars)",
            ("lane", "sailings", "first", "last", "loaded", "seats", "full", "used"),
            (
                (
                    r["lane"],
                    str(r["sailings"]),
                    r["first"],
                    r["last"],
                    f"{r['loaded']:,}",
                    f"{r['capacity']:,}",
                    str(r["full"]),
                    f"{r['utilization']:.0%}",
                )
                for r in ex["lanes"]
            ),
            left=4,
        )
    )
    yards = ", ".join(
        f"{r['port']} {r['peak_cars']:,} cars on {r['peak_date']}" for r in ex["yard_peaks"]
    )
    out.print(f"Most cars waiting at a port: {yards}; without a sailing: {ex['no_sailing']:,}")
    print_effects(effects)


def print_effects(effects: pl.DataFrame) -> None:
    """Per scenario (or what-if): waits at home, of the home orders locked since the first
    export order, and abroad; the last export delivery; the port yard's peak."""

    def days(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    first = effects["since"][0] if effects.height else None
    out.print(
        _table(
            f"Waits at home and abroad, days (home since: orders locked from {first} on)",
            (
                "what-if",
                "home P50",
                "home P90",
                "since P50",
                "since P90",
                "export",
                "exp P50",
                "exp P90",
                "last export",
                "port peak",
            ),
            (
                (
                    r["scenario"],
                    days(r["home_median_wait"]),
                    days(r["home_p90_wait"]),
                    days(r["home_since_median_wait"]),
                    days(r["home_since_p90_wait"]),
                    f"{r['export_orders']:,}",
                    days(r["export_median_wait"]),
                    days(r["export_p90_wait"]),
                    str(r["last_export_delivery"] or "-"),
                    f"{r['yard_peak']:,}",
                )
                for r in effects.iter_rows(named=True)
            ),
            left=1,
        )
    )


def _folder(output: Path | None, option: str = "-o/--output") -> None:
    """Refuse an output that is a file before any work is done."""
    if output is not None and output.exists() and not output.is_dir():
        raise PromiselineError(f"{output} is a file; {option} names a folder for the outputs")


def _write(plan: Plan, output: Path) -> dict[str, Path]:
    """The plan files, and with export by sea its chart (export.png)."""
    from promiseline.io.outputs import write_plan

    paths = write_plan(plan, output)
    if plan.capacity.sea.lane_names:
        from promiseline.charts import export_chart

        paths["export_chart"] = export_chart(plan, output / "export.png")
    return paths


@app.command("plan")
def plan_cmd(
    scenario: ScenarioArg,
    orders: OrdersArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")] = Path(
        "promiseline-plan"
    ),
    accept_rejected: AcceptRejected = False,
) -> None:
    """Plan an order book: writes OUT/plan.parquet, OUT/plan.csv and OUT/summary.json.
    Rejected rows are listed and skipped; exit code 1 if there are any."""
    _folder(output)
    with _steps() as say:
        p = _load(scenario, orders, say, rest=f"all in {output / 'summary.json'}")
        say("writing outputs")
        paths = _write(p, output)
    print_summary(p)
    _written(paths)
    _accept(p.book, accept_rejected)


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
    accept_rejected: AcceptRejected = False,
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
    else:
        out.print(
            f"{model} {variant} to {market}, locked {q.locked_at:%Y-%m-%d %H:%M}: built "
            f"{q.build_date} on {q.line} ({q.plant}), delivered [bold]{q.delivery_date}[/] "
            f"(wait {q.wait_days} days, queue position {q.queue_position:,})"
            + (f"; held back by {q.bound_by}" if q.bound_by else "")
        )
    _accept(p.book, accept_rejected)


@app.command()
def explain(
    scenario: ScenarioArg,
    orders: OrdersArg,
    order_id: str,
    accept_rejected: AcceptRejected = False,
) -> None:
    """Explain an order's date: its queue position and what bound it."""
    with _steps() as say:
        p = _load(scenario, orders, say)
        say("explaining")
        e = api.explain(p, order_id)
    out.print(e.text(), highlight=False)
    _accept(p.book, accept_rejected)


@app.command()
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
        f"{scenario}: valid: {len(s.products)} model(s), {len(s.plants)} plant(s), "
        f"{lines} line(s), {len(s.parts)} part(s), {len(s.mix_limits)} mix limit(s), "
        f"{len(s.markets)} market(s), {s.horizon_days} days from {s.start}"
    )
    from promiseline.core.planning.sea import lane_warnings

    for w in lane_warnings(s):
        out.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    if orders is None:
        return
    book = _book(scenario, s, orders)
    _rejections(book, limit=1000, rest="the first 1,000 are shown")
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
        Path | None,
        typer.Option(
            help="Scenario YAML for an empty database; a database that holds a scenario "
            "keeps using it (replace it with PUT /v1/scenario)."
        ),
    ] = None,
    db: DbOpt = "sqlite:///promiseline.db",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (use PostgreSQL for >1).", min=1, max=64)
    ] = 1,
    admin_key: Annotated[
        str | None,
        typer.Option(
            envvar="PROMISELINE_ADMIN_KEY",
            help="Register this admin key (32+ characters; better given in the environment).",
        ),
    ] = None,
    webhook: Annotated[
        list[str] | None,
        typer.Option(
            help="POST eta_changed events here (repeat for more); signed with "
            "PROMISELINE_WEBHOOK_SECRET."
        ),
    ] = None,
    debounce: Annotated[float, typer.Option(help="Seconds between a change and re-plan.")] = 1.0,
    futures: Annotated[
        int,
        typer.Option(
            envvar="PROMISELINE_FUTURES",
            min=0,
            max=5000,
            help="Monte Carlo futures behind every window (0: the plan's stand-in only).",
        ),
    ] = 200,
    public_backlog: Annotated[
        bool, typer.Option(help="Show queue positions and plan sizes to anonymous callers.")
    ] = False,
    public_metrics: Annotated[bool, typer.Option(help="Serve /metrics without a key.")] = False,
    access_log: Annotated[
        bool, typer.Option(help="Log one line per request (order tokens redacted).")
    ] = False,
) -> None:
    """Run the order service (FastAPI + uvicorn). Settings and secrets from the
    environment: PROMISELINE_ADMIN_KEY, PROMISELINE_PEPPER, PROMISELINE_WEBHOOK_SECRET."""
    import os

    import uvicorn

    from promiseline.service.live import stored_scenario
    from promiseline.service.logs import log_config
    from promiseline.service.settings import Settings
    from promiseline.store import open_store

    settings = Settings(
        db=db,
        scenario=str(scenario) if scenario else None,
        admin_key=admin_key,
        pepper=os.environ.get("PROMISELINE_PEPPER") or None,
        webhooks=tuple(webhook or ()),
        webhook_secret=os.environ.get("PROMISELINE_WEBHOOK_SECRET") or None,
        debounce_s=debounce,
        public_backlog=public_backlog,
        public_metrics=public_metrics,
        futures=futures,
    )
    if scenario is not None:
        api.load_scenario(scenario)  # a bad file fails before the database is touched
    store = open_store(db)  # reachable, and migrated once before the workers start
    try:
        stored_scenario(store, settings)  # an empty database gets its scenario once
    finally:
        store.close()
    os.environ.update(settings.to_env())
    if workers > 1 and db.startswith("sqlite:"):
        err.print(
            "[yellow]warning:[/] several workers on SQLite take turns at its one write lock; "
            "PostgreSQL serves several workers better",
            highlight=False,
        )
    err.print(f"promiseline service on http://{host}:{port} ({workers} worker(s), {store.name})")
    uvicorn.run(
        "promiseline.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(access_log),
        access_log=access_log,
    )


@app.command()
def key(
    role: Annotated[str, typer.Argument(help="planner or admin")],
    db: DbOpt = "sqlite:///promiseline.db",
) -> None:
    """Create an API key directly in the database (to bootstrap an admin). Uses the same
    pepper as the service: set PROMISELINE_PEPPER as the service has it."""
    import os

    from promiseline.core.model.records import ROLES
    from promiseline.service.access import key_hash, new_key, pepper_for
    from promiseline.store import open_store

    if role not in ROLES:
        raise PromiselineError(f"role must be one of {list(ROLES)}, got {role!r}")
    store = open_store(db)
    try:
        pepper = pepper_for(store, os.environ.get("PROMISELINE_PEPPER") or None)
        key_id, secret = new_key(role)
        store.add_key(key_id, key_hash(pepper, secret), role, dt.datetime.now())
    finally:
        store.close()
    out.print(f"{key_id} ({role}): {secret}", highlight=False)


def _not_stored_yet(book: OrderBook, known: set[str]) -> OrderBook:
    """The book without the orders the database already holds (those become rejected rows:
    an import never half-writes, and never fails whole for them)."""
    from promiseline.core.model.orders import Rejection

    if not known:
        return book
    again = book.table["order_id"].is_in(list(known))
    rows = book.table.filter(again).select("row", "order_id").iter_rows()
    rejected = [Rejection(r, oid, "order id already in the database") for r, oid in rows]
    return OrderBook(
        book.table.filter(~again),
        tuple(sorted((*book.rejected, *rejected), key=lambda r: r.row)),
        book.source,
    )


@app.command("import")
def import_orders(
    orders: OrdersArg,
    db: DbOpt = "sqlite:///promiseline.db",
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="Scenario to check against (default: the one the database holds, else the demo)."
        ),
    ] = None,
    accept_rejected: AcceptRejected = False,
) -> None:
    """Load an order book into the database: every good row, in one transaction. Rejected
    rows are listed and not imported; exit code 1 if there are any."""
    from promiseline.io.scenario_file import from_stored
    from promiseline.store import open_store

    store = open_store(db)
    try:
        stored = store.scenario() if scenario is None else None
        # a running service's own scenario, else the one named (or the demo)
        s = from_stored(stored, store.name) if stored else api.load_scenario(scenario)
        book = _book(scenario, s, orders)
        book = _not_stored_yet(book, store.known_orders(book.table["order_id"].to_list()))
        _rejections(book)
        n = store.import_orders(book, dt.datetime.now())
    except StorageError as e:  # the whole import rolled back
        raise PromiselineError(f"import failed, nothing was written: {e}") from None
    finally:
        store.close()
    out.print(f"imported {n:,} orders into {db}")
    _accept(book, accept_rejected)


@app.command("export")
def export_orders(
    output: Annotated[Path, typer.Argument(help="Order book to write, .csv or .parquet.")],
    db: DbOpt = "sqlite:///promiseline.db",
) -> None:
    """Write every order in the database as an order book (any status)."""
    from promiseline.io.order_book import write_orders
    from promiseline.store import open_existing

    store = open_existing(db)
    try:
        book = store.export_orders()
    finally:
        store.close()
    write_orders(book, output)
    out.print(f"exported {len(book):,} orders to {output}")


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
    from promiseline.web.report import write_plan_charts

    output.mkdir(parents=True, exist_ok=True)
    paths = {
        "windows": output / "windows.parquet",
        "bands": output / "bands.parquet",
        "simulation": output / "simulation.json",
    }
    sim.orders().write_parquet(paths["windows"])
    sim.bands().write_parquet(paths["bands"])
    paths["simulation"].write_text(json.dumps(sim.summary(), indent=2, default=str) + "\n")
    for name, p in write_plan_charts(sim.base, output, sim).items():
        paths[name] = p
    return paths


@app.command()
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
) -> None:
    """Monte Carlo delivery windows: P10/P50/P90 dates, cancellations, fan charts."""
    with _steps() as say:
        say("loading")
        s, book = _loaded(scenario, orders)
        say(f"planning {futures} futures")
        sim = api.simulate(s, book, futures=futures, seed=seed, workers=workers, dask=dask)
        say("writing outputs and charts")
        paths = write_simulation(sim, output)
    print_simulation(sim)
    _written(paths)
    _accept(book, accept_rejected)


def _days(text: str) -> int:
    """'7d', '2w' or '30' (days) -> days."""
    t = text.strip().lower()
    mult = 7 if t.endswith("w") else 1
    try:
        n = int(t.rstrip("dw"))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected days such as 7d, 2w or 30") from None
    if n < 1:
        raise typer.BadParameter(f"{text!r}: must be at least one day")
    return n * mult


def calibration_line(j: dict[str, Any]) -> str:
    """The one line of a backtest a planner reads first."""
    if j["orders_scored"] == 0:
        return f"calibration: {j['verdict']}"
    head = (
        f"calibration: {j['verdict']}; on time vs likely date {j['on_time_first_promise']:.0%} "
        f"(first promise), {j['on_time_latest_promise']:.0%} (latest); "
        f"{j['churn_per_order']} eta messages per order; {j['orders_scored']:,} orders"
    )
    if j.get("source") == "database":
        mc = j["monte_carlo_first_promises"]["orders"]
        return f"{head} delivered ({mc:,} first told a Monte Carlo window), from {j['database']}"
    return f"{head}, {len(j['seeds'])} reality(ies), {j['replays']} replays" + (
        " (all orders of one reality share its luck: judge over several)"
        if len(j["seeds"]) == 1
        else ""
    )


def print_backtest(j: dict[str, Any]) -> None:
    out.print(calibration_line(j))
    score = "WIS" if j.get("source") == "database" else "CRPS"
    out.print(
        _table(
            "Promises by weeks ahead of delivery",
            ("weeks ahead", "promises", "inside P10-P90", "on time", "MAE", score),
            (
                (
                    r["weeks"],
                    f"{r['promises']:,}",
                    f"{r['coverage_p10_p90']:.0%}",
                    f"{r['on_time']:.0%}",
                    f"{r['mean_abs_error_days']:.1f} d",
                    "-"
                    if r[f"{score.lower()}_days"] is None
                    else f"{r[f'{score.lower()}_days']:.2f} d",
                )
                for r in j["by_weeks_ahead"]
                if r["promises"]
            ),
            left=1,
        )
    )


@app.command()
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
) -> None:
    """The dashboard's overview as one self-contained HTML file, for sending by mail."""
    from promiseline.web.report import write_report

    with _steps() as say:
        say("loading")
        s, book = _loaded(scenario, orders)
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
    _written({"report": path})
    _accept(book, accept_rejected)


@app.command()
def backtest(
    scenario: Annotated[
        Path | None,
        typer.Argument(
            metavar="[SCENARIO",
            help="Scenario YAML file, or 'demo' (not with --db).",
            show_default=False,
        ),
    ] = None,
    orders: Annotated[
        Path | None,
        typer.Argument(
            metavar="ORDERS]",
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
        typer.Option(help="A patch for the world the planner does not know (repeatable)."),
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
) -> None:
    """Does a promise come true as often as it says? Replay time through a drawn reality,
    promise as the service would, and score every promise against what came; or, with
    --db, score what a deployment really told its delivered orders."""
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
    with _steps() as say:
        if db is not None:
            say("reading the promises told and the deliveries")
            result = api.backtest_history(db)
        else:
            assert scenario is not None
            assert orders is not None
            say("loading")
            s, book = _loaded(scenario, orders)
            result = api.backtest(
                s,
                book,
                realities=reality or (),
                draws=realities,
                futures=futures,
                every_days=_days(every),
                span_days=_days(span),
                seed=seed,
                workers=workers,
                progress=say,
            )
        say("writing outputs and charts")
        output.mkdir(parents=True, exist_ok=True)
        j = result.to_json()
        paths = {"backtest": output / "backtest.json"}
        paths["backtest"].write_text(json.dumps(j, indent=2) + "\n", encoding="utf-8")
        paths |= backtest_charts(result, output)
    print_backtest(j)
    _written(paths)


@app.command()
def compare(
    scenario: ScenarioArg,
    orders: OrdersArg,
    patches: Annotated[list[Path], typer.Argument(metavar="PATCH", help="What-if patches (YAML).")],
    at: Annotated[list[str] | None, typer.Option(help="Backlog on these dates.")] = None,
    futures: Annotated[int, typer.Option(help="Also simulate each (Monte Carlo futures).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo runs.")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the charts.")] = Path(
        "promiseline-compare"
    ),
    accept_rejected: AcceptRejected = False,
) -> None:
    """Plan (and with --futures simulate) the order book on the scenario and on each
    what-if; print them side by side."""
    from promiseline.charts import compare_charts
    from promiseline.core.studies.whatif import default_dates

    with _steps() as say:
        say("planning each scenario")
        s, book = _loaded(scenario, orders)
        cmp = api.compare(s, book, patches)
        say("writing charts")
        paths = compare_charts(cmp, output)
        odds = None
        if futures:
            say(f"simulating each scenario ({futures} futures)")
            odds = cmp.simulated_waits(futures, seed)
    dates = [dt.date.fromisoformat(d) for d in at] if at else default_dates(s)
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
        out.print(_frame_table(title, df))
    if odds is not None:
        out.print(
            _frame_table(
                f"Monte Carlo ({futures} futures): median of each order's P90 wait, days", odds
            )
        )
    if any(p.capacity.sea.lane_names for p in cmp.plans):
        from promiseline.core.readout.export_outlook import outlooks

        print_effects(outlooks(list(zip(cmp.names, cmp.plans, strict=True))))
    _written(paths)
    _accept(book, accept_rejected)


@app.command()
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
) -> None:
    """Find the least-cost capacity additions that meet a wait target (HiGHS + planner);
    exit code 1 if the target is not met or rows of the order book were rejected."""
    with _steps() as say:
        s, book = _loaded(scenario, orders)
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
    _accept(book, accept_rejected)
    if not r.met:
        raise typer.Exit(1)


def _p90_target(text: str) -> int:
    """'<=270d', '270d' or '270' -> 270 days."""
    t = text.strip().removeprefix("<=").strip().removesuffix("d").strip()
    if not t.isdigit():
        raise AllocationError(
            f"--domestic-p90: expected e.g. '<=270d', '270d' or '270', got {text!r}"
        )
    return int(t)


def _month_span(text: str | None) -> tuple[dt.date, dt.date] | None:
    """'2027-01..2027-12' -> first days of both months."""
    if text is None:
        return None
    try:
        a, b = (dt.date.fromisoformat(p.strip() + "-01") for p in text.split(".."))
    except ValueError:
        raise AllocationError(f"--months: expected e.g. '2027-01..2027-12', got {text!r}") from None
    return a, b


@app.command()
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
) -> None:
    """How many cars each export market gets per month: the most margin (HiGHS) whose plan
    keeps the domestic P90 wait within the target, checked by the planner. Exit code 1 if
    the target is not met or rows of the order book were rejected."""
    import yaml

    _folder(output)
    target, span = _p90_target(domestic_p90), _month_span(months)
    with _steps() as say:
        s, book = _loaded(scenario, orders)
        a = api.allocate(s, book, domestic_p90_days=target, months=span, progress=say)
    q = a.quotas.group_by("month", "market").agg(pl.col("cars").sum())
    grid = q.pivot(on="market", index="month", values="cars").sort("month")
    markets = [c for c in grid.columns if c != "month"]
    out.print(
        _table(
            f"Monthly export quotas, cars departing (margin {a.margin:,.0f})",
            ("month", *markets, "total"),
            (
                (r[0], *(f"{v:,}" for v in r[1:]), f"{sum(r[1:]):,}")
                for r in grid.select("month", *markets).iter_rows()
            ),
        )
    )
    verdict = "[green]met[/]" if a.met else "[red]not met[/]"
    p50 = "-" if a.domestic_p50 is None else f"{a.domestic_p50:.0f}"
    p90 = "-" if a.domestic_p90 is None else f"{a.domestic_p90:.0f}"
    out.print(
        f"Domestic P90 <= {target} days: {verdict}. Planned domestic orders "
        f"{a.domestic_orders:,}: P50 {p50} days, P90 {p90} days (by the planner; "
        f"w_lp {'none' if a.w_lp is None else a.w_lp})."
    )
    out.print(_frame_table("Verification by the planner: quota and departures", a.verified))
    if a.export_waits.height:
        out.print(_frame_table("Export waits (days)", a.export_waits))
    out.print(a.note, highlight=False)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        paths = {
            "quotas": output / "quotas.csv",
            "scenario": output / "scenario.yaml",
            "summary": output / "summary.json",
        }
        a.quotas.write_csv(paths["quotas"])
        data = a.scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
        paths["scenario"].write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        paths["summary"].write_text(json.dumps(a.summary(), indent=2) + "\n", encoding="utf-8")
        _written(paths)
    _accept(book, accept_rejected)
    if not a.met:
        raise typer.Exit(1)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.1%}" if 0 <= v <= 1 and not v.is_integer() else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)[:10]


def _debug_first(args: list[str]) -> list[str]:
    """`--debug` anywhere before a `--` moves to the front, where typer reads the option
    of the whole program: `promiseline plan --debug ...` = `promiseline --debug plan ...`."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(a for a in args[:end] if a != "--debug"), *args[end:]]


def _fail(message: str, details: Sequence[str] = ()) -> NoReturn:
    """The error as one line on stderr (after the traceback with --debug); exit code 2."""
    if _state["debug"]:
        traceback.print_exc()
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    for p in details:
        err.print(f"       {p}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(2)


def _is_usage_error(e: Exception) -> bool:
    """A click usage error (missing argument, unknown option), from click or from the
    copy of click that newer typer versions carry: both can show themselves."""
    return callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int)


def main() -> None:
    """Entry point: one clear line and exit code 2 on a user error."""
    args = _debug_first(sys.argv[1:])
    _state["debug"] = args[:1] == ["--debug"]
    try:
        code = app(args=args, prog_name="promiseline", standalone_mode=False)
        if isinstance(code, int) and code:  # the code of a typer.Exit
            sys.exit(code)
    except PromiselineError as e:
        _fail(str(e), getattr(e, "problems", [])[1:])
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as e:  # usage errors and the unexpected
        if _is_usage_error(e):
            e.show()  # type: ignore[attr-defined]
            sys.exit(2)
        _fail(f"{type(e).__name__}: {e}" + ("" if _state["debug"] else " (--debug shows where)"))


if __name__ == "__main__":
    main()
