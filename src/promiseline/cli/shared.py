"""What every command shares: the consoles, the arguments, the progress spinner, reading
the inputs, the exit codes, and rich tables."""

from __future__ import annotations

import datetime as dt
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import polars as pl
import typer
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.padding import Padding
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from promiseline import api
from promiseline.errors import PromiselineError, counted

if TYPE_CHECKING:
    from promiseline.core.model.orders import OrderBook
    from promiseline.core.model.scenario import Scenario
    from promiseline.core.planning.plan import Plan

out = Console()
err = Console(stderr=True)
state = {"debug": False}

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
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Plan as of this moment: a date, a date-time or 'today' (default: the "
        "scenario's as_of, else its start). Nothing open is built before it.",
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
DbOpt = Annotated[  # every use defaults to sqlite:///promiseline.db (said in words: a
    # shown default is one token, cut at 80 columns)
    str,
    typer.Option(
        "--db",
        help="Database URL: sqlite:///FILE or postgresql://... (sqlite:///promiseline.db "
        "if not given).",
        show_default=False,
    ),
]

Say = Callable[[str], None]
"""Names the step now running (on the spinner)."""


@contextmanager
def steps() -> Iterator[Say]:
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


# --- the inputs ---

LISTS_ALL = "'promiseline validate' lists them all"


def print_rejected(book: OrderBook, limit: int = 20, rest: str = LISTS_ALL) -> None:
    """The rejected rows of the book on stderr, the first `limit` of them."""
    if not book.rejected:
        return
    err.print(f"[yellow]{counted(len(book.rejected), 'row')} rejected in {book.source}:[/]")
    for r in book.rejected[:limit]:
        err.print(f"  {r}", markup=False, highlight=False, soft_wrap=True)
    if len(book.rejected) > limit:
        err.print(f"  ... and {len(book.rejected) - limit:,} more ({rest})", highlight=False)


def read_book(scenario: Path | None, s: Scenario, orders: Path) -> OrderBook:
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


def parse_as_of(text: str | None) -> dt.datetime | dt.date | None:
    """--as-of as a date or date-time ('today': the machine's date)."""
    if text is None:
        return None
    if text.strip().lower() == "today":
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
    except ValueError:
        raise PromiselineError(
            f"--as-of: expected a date such as 2025-06-27, a date-time such as "
            f"2025-06-27T09:00, or 'today', got {text!r}"
        ) from None


def parse_day(text: str, option: str) -> dt.date:
    """A day option: a date, or 'today' (a date-time's date)."""
    try:
        moment = parse_as_of(text)
    except PromiselineError:
        raise PromiselineError(
            f"{option}: expected a date such as 2026-12-03 or 'today', got {text!r}"
        ) from None
    return moment.date() if isinstance(moment, dt.datetime) else moment  # type: ignore[return-value]


def read_inputs(
    scenario: Path, orders: Path, as_of: str | None = None
) -> tuple[Scenario, OrderBook]:
    """The scenario (as of `as_of` when given) and its order book, the rejected rows
    listed."""
    s = api.load_scenario(scenario, as_of=parse_as_of(as_of))
    book = read_book(scenario, s, orders)
    print_rejected(book)
    return s, book


def read_and_plan(
    scenario: Path, orders: Path, say: Say, rest: str = LISTS_ALL, as_of: str | None = None
) -> Plan:
    """The plan of the order book on the scenario (as of `as_of` when given), the
    rejected rows listed."""
    say("loading scenario")
    s = api.load_scenario(scenario, as_of=parse_as_of(as_of))
    say("reading orders")
    book = read_book(scenario, s, orders)
    print_rejected(book, rest=rest)
    return api.plan(s, book, progress=say)


def refuse_file_output(output: Path | None, option: str = "-o/--output") -> None:
    """Refuse an output that is a file before any work is done."""
    if output is not None and output.exists() and not output.is_dir():
        raise PromiselineError(f"{output} is a file; {option} names a folder for the outputs")


def parse_days(text: str, option: str | None = None) -> int:
    """'7d', '2w' or '30' (days) -> days; a bad one names its `option` (e.g. --every)."""
    t = text.strip().lower()
    mult = 7 if t.endswith("w") else 1
    try:
        n = int(t.rstrip("dw"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected days such as 7d, 2w or 30", param_hint=option
        ) from None
    if n < 1:
        raise typer.BadParameter(f"{text!r}: must be at least one day", param_hint=option)
    return n * mult


def parse_when(text: str | None) -> dt.datetime | None:
    """--when as a date-time (None: now, said by the API)."""
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise PromiselineError(
            f"--when: expected an ISO 8601 date-time such as 2025-07-01T10:00, got {text!r}"
        ) from None


# --- what comes out ---


def exit_if_rejected(book: OrderBook, accept_rejected: bool) -> None:
    """Exit 1 when rows were rejected unless --accept-rejected: a script must not take
    the answer for a part of the order book as the answer for all of it."""
    if book.rejected and not accept_rejected:
        err.print(
            f"{counted(len(book.rejected), 'row')} of {book.source} rejected: exit code 1 "
            "(--accept-rejected to exit 0)",
            highlight=False,
        )
        raise typer.Exit(1)


def print_paths(paths: dict[str, Path]) -> None:
    """The files written, in the order they were."""
    out.print("Wrote " + ", ".join(str(p) for p in paths.values()))


class Fitted:
    """A table that never cuts a name, a figure or a date: drawn as a table where its
    widest cells fit the terminal (a header may wrap between words), else each row
    stacked as `column value` pairs that wrap between words (an 80-column terminal cut
    the export tables to `tianjin-…` and `202…`)."""

    def __init__(
        self, title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], left: int
    ) -> None:
        self.title, self.columns, self.left = title, list(columns), left
        self.rows = [list(r) for r in rows]

    def widths(self) -> list[int]:
        """Per column: its widest cell, or its header's longest word."""
        return [
            max(
                [max((len(w) for w in col.split()), default=0)]
                + [Text.from_markup(r[i]).cell_len for r in self.rows]
            )
            for i, col in enumerate(self.columns)
        ]

    def table(self, snug: bool = False) -> Table:
        """The table; `snug`: each column no wider than its widest cell or header word,
        so headers wrap between words (rich alone left a table wider than the terminal
        when long headers topped short figures: `fit`'s "days sd" cut to "days s")."""
        t = Table(title=self.title, title_justify="left", min_width=len(self.title))
        for i, (col, w) in enumerate(zip(self.columns, self.widths(), strict=True)):
            t.add_column(
                col,
                justify="left" if i < self.left else "right",
                min_width=w,
                max_width=w if snug else None,
                overflow="fold",
            )
        for row in self.rows:
            t.add_row(*row)
        return t

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = self.widths()
        frame = 3 * len(widths) + 1
        if sum(widths) + frame <= options.max_width:
            heads = [len(c) for c in self.columns]
            natural = sum(max(w, h) for w, h in zip(widths, heads, strict=True)) + frame
            yield self.table(snug=natural > options.max_width)
            return
        yield Text(self.title, style="italic")
        room = max(options.max_width - 2, 20)
        for row in self.rows:
            head = Text.from_markup(row[0], style="bold")
            pairs = [
                Text.assemble((f"{col} ", "dim"), Text.from_markup(v))
                for col, v in zip(self.columns[1:], row[1:], strict=True)
                if v
            ]
            # lines packed pair by pair, so a label never parts from its value
            line = head
            for pair in pairs:
                if line.cell_len + 3 + pair.cell_len > room:
                    yield Padding(line, (0, 0, 0, 2))
                    line = Text("  ") + pair
                else:
                    line = Text(" · ").join([line, pair])
            yield Padding(line, (0, 0, 0, 2))


def table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1
) -> Fitted:
    """A table: the first `left` columns left-aligned, the rest (figures) right."""
    return Fitted(title, columns, rows, left)


def frame_table(title: str, df: pl.DataFrame) -> Fitted:
    """A polars frame as a table, text columns first; headers in words (`wait_p50` reads
    `wait p50`)."""
    left = sum(1 for c in df.columns if not df.schema[c].is_numeric())
    heads = [c.replace("_", " ") for c in df.columns]
    return table(title, heads, ([cell(v) for v in row] for row in df.iter_rows()), left)


def cell(v: Any) -> str:
    """A value as a table shows it: shares as percent, numbers with thousands, dates as days."""
    if isinstance(v, float):
        return f"{v:.1%}" if 0 <= v <= 1 and not v.is_integer() else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)[:10]


# --- errors ---


def debug_first(args: list[str]) -> list[str]:
    """`--debug` anywhere before a `--` moves to the front, where typer reads the option
    of the whole program: `promiseline plan --debug ...` = `promiseline --debug plan ...`."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(a for a in args[:end] if a != "--debug"), *args[end:]]


def fail(message: str, details: Sequence[str] = ()) -> NoReturn:
    """The error as one line on stderr (after the traceback with --debug); exit code 2."""
    if state["debug"]:
        traceback.print_exc()
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    for p in details:
        err.print(f"       {p}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(2)


def is_usage_error(e: Exception) -> bool:
    """A click usage error (missing argument, unknown option), from click or from the
    copy of click that newer typer versions carry: both can show themselves."""
    return callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int)
