"""Commands of the order service and its database: serve, key, import, dump (once named
`export`, which now means shipping abroad), surge."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from promiseline import api
from promiseline.cli.shared import (
    AcceptRejected,
    AsOfOpt,
    DbOpt,
    err,
    exit_if_rejected,
    fail,
    out,
    parse_as_of,
    print_rejected,
    read_book,
    steps,
)
from promiseline.errors import ProgressError, PromiselineError, StorageError, counted
from promiseline.service.settings import Settings

if TYPE_CHECKING:
    from promiseline.core.model.scenario import Scenario

commands = typer.Typer()
DEFAULTS = Settings()  # the service's defaults, shown in `serve --help`


@commands.command()
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
            metavar="URL",
            help="POST eta_changed events here (repeat for more); signed with "
            "PROMISELINE_WEBHOOK_SECRET.",
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
        bool,
        typer.Option(
            "--public-backlog", help="Show queue positions and plan sizes to anonymous callers."
        ),
    ] = False,
    public_metrics: Annotated[
        bool, typer.Option("--public-metrics", help="Serve /metrics without a key.")
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log", help="Log one line per request (tokens, link codes and keys redacted)."
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Plan as of this fixed plant-local moment (a demo, a test) instead of the "
            "clock in the scenario's time zone.",
            show_default=False,
        ),
    ] = None,
    simulate_plant: Annotated[
        bool,
        typer.Option(
            "--simulate-plant",
            envvar="PROMISELINE_SIMULATE_PLANT",
            help="Each day, report progress as the plan says (built with the scenario's "
            "uptime, shipped, delivered), as a plant would: a demo left running stays true.",
        ),
    ] = False,
    trust_proxy: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ADDRESS",
            envvar="PROMISELINE_TRUSTED_PROXIES",
            help="A reverse proxy's address or network (repeat for more): its "
            "X-Forwarded-For names the client for the per-client limits. Default none: "
            "the client is the socket peer, and X-Forwarded-For is ignored.",
            show_default=False,
        ),
    ] = None,
    limit_orders: Annotated[
        str, typer.Option(envvar="PROMISELINE_LIMIT_ORDERS", help="New orders per address.")
    ] = DEFAULTS.limit_orders,
    limit_quotes: Annotated[
        str, typer.Option(envvar="PROMISELINE_LIMIT_QUOTES", help="Quotes per address.")
    ] = DEFAULTS.limit_quotes,
    limit_links: Annotated[
        str,
        typer.Option(envvar="PROMISELINE_LIMIT_LINKS", help="One-time links minted per address."),
    ] = DEFAULTS.limit_links,
    limit_order_links: Annotated[
        str,
        typer.Option(
            envvar="PROMISELINE_LIMIT_ORDER_LINKS", help="One-time links minted per order."
        ),
    ] = DEFAULTS.limit_order_links,
    limit_streams: Annotated[
        str,
        typer.Option(envvar="PROMISELINE_LIMIT_STREAMS", help="Event streams opened per address."),
    ] = DEFAULTS.limit_streams,
    streams_per_client: Annotated[
        int,
        typer.Option(
            envvar="PROMISELINE_STREAMS_PER_CLIENT", help="Event streams open at once per address."
        ),
    ] = DEFAULTS.sse_per_client,
    streams_per_order: Annotated[
        int,
        typer.Option(
            envvar="PROMISELINE_STREAMS_PER_ORDER", help="Event streams open at once per order."
        ),
    ] = DEFAULTS.sse_per_order,
    header_timeout: Annotated[
        float,
        typer.Option(
            envvar="PROMISELINE_HEADER_TIMEOUT",
            help="Seconds for a request's headers to arrive whole (else 408, closed).",
        ),
    ] = DEFAULTS.header_timeout_s,
    body_timeout: Annotated[
        float,
        typer.Option(
            envvar="PROMISELINE_BODY_TIMEOUT",
            help="Seconds for a request's body to arrive whole (else 408, closed).",
        ),
    ] = DEFAULTS.body_timeout_s,
    keep_alive: Annotated[
        int,
        typer.Option(
            envvar="PROMISELINE_KEEP_ALIVE", help="Seconds an idle kept-alive connection stays."
        ),
    ] = DEFAULTS.keep_alive_s,
    max_connections: Annotated[
        int,
        typer.Option(
            envvar="PROMISELINE_MAX_CONNECTIONS",
            help="Connections at once per worker (uvicorn's limit_concurrency; more: 503). "
            "Keep it under the open-file limit (ulimit -n).",
        ),
    ] = DEFAULTS.max_connections,
    connections_per_client: Annotated[
        int,
        typer.Option(
            envvar="PROMISELINE_CONNECTIONS_PER_CLIENT",
            help="Connections at once per address and worker (more: 429); trusted "
            "proxies are not counted.",
        ),
    ] = DEFAULTS.connections_per_client,
    backlog: Annotated[
        int,
        typer.Option(envvar="PROMISELINE_BACKLOG", help="Connections waiting to be accepted."),
    ] = DEFAULTS.backlog,
) -> None:
    """Run the order service (FastAPI + uvicorn). Settings and secrets from the
    environment: PROMISELINE_ADMIN_KEY, PROMISELINE_PEPPER, PROMISELINE_WEBHOOK_SECRET."""
    import uvicorn

    from promiseline.service.guard import MAX_HEADERS
    from promiseline.service.live import stored_scenario
    from promiseline.service.logs import log_config
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
        as_of=_moment(parse_as_of(as_of)),
        simulate_plant=simulate_plant,
        trusted_proxies=tuple(p for text in trust_proxy or () for p in text.split()),
        limit_orders=limit_orders,
        limit_quotes=limit_quotes,
        limit_links=limit_links,
        limit_order_links=limit_order_links,
        limit_streams=limit_streams,
        sse_per_client=streams_per_client,
        sse_per_order=streams_per_order,
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        keep_alive_s=keep_alive,
        max_connections=max_connections,
        connections_per_client=connections_per_client,
        backlog=backlog,
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
    _check_file_limit(settings.max_connections)
    err.print(
        f"promiseline service on http://{host}:{port} ({counted(workers, 'worker')}, {store.name})"
    )
    uvicorn.run(
        "promiseline.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(access_log),
        access_log=access_log,
        # connection hygiene (service/connections.py): uvicorn's protocol with a header
        # deadline and a per-address cap, and uvicorn's own limits
        http="promiseline.service.connections:HttpProtocol",
        timeout_keep_alive=settings.keep_alive_s,
        limit_concurrency=settings.max_connections,
        backlog=settings.backlog,
        h11_max_incomplete_event_size=MAX_HEADERS + 4096,  # the guard's limit, and the line
        # X-Forwarded-For only from the proxies named (uvicorn trusts 127.0.0.1 unless told)
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )


def _check_file_limit(connections: int) -> None:
    """Warn when --max-connections cannot be reached: the open-file limit comes first
    (accept then fails with EMFILE instead of the clean 503)."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and connections + 100 > soft:
        err.print(
            f"[yellow]warning:[/] --max-connections {connections:,} is over the open-file "
            f"limit ({soft:,}, `ulimit -n`) less 100 for the database and logs: raise the "
            "limit or lower --max-connections",
            highlight=False,
        )


@commands.command()
def key(
    role: Annotated[str, typer.Argument(help="planner or admin")],
    db: DbOpt = "sqlite:///promiseline.db",
) -> None:
    """Create an API key directly in the database (to bootstrap an admin). Uses the same
    pepper as the service: set PROMISELINE_PEPPER as the service has it."""
    from promiseline.service.access import key_hash, new_key, pepper_for
    from promiseline.store import open_store

    known = api.check_role(role)
    store = open_store(db)
    try:
        pepper = pepper_for(store, os.environ.get("PROMISELINE_PEPPER") or None)
        key_id, secret = new_key(known)
        store.add_key(key_id, key_hash(pepper, secret), known, dt.datetime.now())
    finally:
        store.close()
    out.print(f"{key_id} ({role}): {secret}", highlight=False)


@commands.command("import")
def import_orders(
    orders: Annotated[
        Path | None,
        typer.Argument(
            metavar="ORDERS",
            help="Order book, .csv or .parquet, or 'demo' (none with --progress).",
            show_default=False,
        ),
    ] = None,
    db: DbOpt = "sqlite:///promiseline.db",
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="Scenario to check against (default: the one the database holds, else the demo)."
        ),
    ] = None,
    progress: Annotated[
        Path | None,
        typer.Option(
            help="Progress from the plant instead of orders: a .csv or .parquet of order_id, "
            "status, line, build_date, sailing_id, at. All rows or none.",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOpt = None,
    accept_rejected: AcceptRejected = False,
) -> None:
    """Load an order book into the database: every good row, in one transaction. Rejected
    rows are listed and not imported; exit code 1 if there are any. With --progress, the
    plant's progress instead: every row checked, all applied or none (exit 2)."""
    from promiseline.io.scenario_file import from_stored
    from promiseline.store import open_store

    if (orders is None) == (progress is None):
        raise PromiselineError(
            "import: give an order book (ORDERS) or --progress FILE, one of them"
        )
    if progress is not None:
        _import_progress(progress, db, scenario, as_of)
        return
    assert orders is not None
    store = open_store(db)
    try:
        stored = store.scenario() if scenario is None else None
        # a running service's own scenario, else the one named (or the demo)
        s = from_stored(stored, store.name) if stored else api.load_scenario(scenario)
        if scenario is None and not stored:
            out.print(
                f"no --scenario and none in the database: checking against the embedded "
                f"demo scenario ({s.name})",
                highlight=False,
            )
        book = read_book(scenario, s, orders)
        if str(orders) == "demo":  # the demo's story, as it stands today (or --as-of)
            day = _plant_day(s, as_of)
            rolled = api.roll_plan(api.plan(s, book), max(day, s.now))
            book = rolled.book
            counts = ", ".join(f"{n:,} {k}" for k, n in rolled.counts().items())
            out.print(f"the demo's book rolled to {rolled.to} along its plan: {counts}")
        known = store.known_orders(book.table["order_id"].to_list())
        book = book.without(known, reason="order id already in the database")
        print_rejected(book)
        n = store.import_orders(book, dt.datetime.now())
    except StorageError as e:  # the whole import rolled back
        raise PromiselineError(f"import failed, nothing was written: {e}") from None
    finally:
        store.close()
    out.print(f"imported {n:,} orders into {db}")
    exit_if_rejected(book, accept_rejected)


OrdersFileArg = Annotated[Path, typer.Argument(help="Order book to write, .csv or .parquet.")]


def _write_stored_orders(db: str, output: Path) -> int:
    """Every order the database holds (any status), written as an order book; how many."""
    from promiseline.io.order_book import write_orders
    from promiseline.store import open_existing

    store = open_existing(db)
    try:
        book = store.export_orders()
    finally:
        store.close()
    write_orders(book, output)
    return len(book)


@commands.command()
def dump(output: OrdersFileArg, db: DbOpt = "sqlite:///promiseline.db") -> None:
    """Write every order in the database as an order book (any status)."""
    n = _write_stored_orders(db, output)
    out.print(f"dumped {n:,} orders to {output}")


@commands.command("export", hidden=True)
def export_deprecated(output: OrdersFileArg, db: DbOpt = "sqlite:///promiseline.db") -> None:
    """Old name of `dump`: export now means shipping abroad."""
    err.print(
        "note: 'promiseline export' is now 'promiseline dump' (export means shipping abroad); "
        "the old name will go",
        highlight=False,
        soft_wrap=True,
    )
    n = _write_stored_orders(db, output)
    out.print(f"exported {n:,} orders to {output}")


@commands.command()
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

    with steps() as say:
        say(f"sending {orders:,} orders over {concurrency} connections")
        res = run_surge(url, orders, concurrency, threads=threads)
    for line in res.lines():
        out.print(line, highlight=False)
    if verify_db:
        v = verify(verify_db, res.acks)
        out.print(v.line(), highlight=False)
        if not v.ok:
            raise typer.Exit(1)


def _moment(moment: dt.datetime | dt.date | None) -> dt.datetime | None:
    """A date as its midnight: the service's as_of is a moment."""
    if moment is None or isinstance(moment, dt.datetime):
        return moment
    return dt.datetime.combine(moment, dt.time())


def _import_progress(path: Path, db: str, scenario: Path | None, as_of: str | None) -> None:
    """The plant's progress through `api.import_progress`: every wrong row named, and
    then nothing written (exit code 2)."""
    moment = parse_as_of(as_of)
    if moment is not None and not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time(23, 59))  # a day: its end
    try:
        done = api.import_progress(
            path,
            db,
            scenario=api.load_scenario(scenario) if scenario else None,
            now=moment,
        )
    except ProgressError as e:
        fail(str(e), e.rows)
    except StorageError as e:
        raise PromiselineError(f"progress import failed, nothing was written: {e}") from None
    out.print(
        f"progress: {counted(done.moved, 'order')} moved on, {done.unchanged:,} already so, in {db}"
    )


def _plant_day(s: Scenario, as_of: str | None) -> dt.date:
    """--as-of's day, else today at the plant (the scenario's time zone)."""
    moment = parse_as_of(as_of)
    if moment is None:
        return api.plant_now(s).date()
    return moment.date() if isinstance(moment, dt.datetime) else moment
