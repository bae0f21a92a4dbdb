"""Command line: parse the arguments, call the public API (`promiseline.api`), print with
rich; no planning here. One module per group of commands (planning, service, futures,
studies), what they print alike in readouts.py, what they share in shared.py."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from promiseline.cli import futures, planning, service, studies
from promiseline.cli.readouts import calibration_line
from promiseline.cli.shared import debug_first, err, fail, is_usage_error, state
from promiseline.errors import PromiselineError

__all__ = ["app", "calibration_line", "main"]

app = typer.Typer(
    help="promiseline: plan every order of a surge into a build slot, with honest dates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's help: wraps between words at any width (rich's
    # option tables cut option names, defaults and variables at 80 columns)
)
for group in (planning, service, futures, studies):  # in this order in --help
    app.registered_commands.extend(group.commands.registered_commands)

SHORT = {  # the command list's one line each: click cut the docstrings' first lines
    "demo": "Plan the embedded demo: the YU7 launch surge.",
    "plan": "Plan an order book (plan.parquet, summary.json).",
    "roll": "Roll the book forward to a day, as if the plan held.",
    "quote": "Quote a new order: its build and delivery dates.",
    "explain": "Explain an order's date: queue position, what bound it.",
    "validate": "Check a scenario and an order book; exit 1 on bad rows.",
    "generate": "Write the demo's synthetic order book.",
    "serve": "Run the order service (HTTP API and pages).",
    "key": "Create an API key directly in the database.",
    "import": "Load an order book (or plant progress) into the database.",
    "dump": "Write every order in the database as an order book.",
    "surge": "Replay a launch surge against a running service.",
    "simulate": "Monte Carlo delivery windows with odds.",
    "report": "The overview as one self-contained HTML file.",
    "backtest": "Do promises come true as often as they say?",
    "fit": "Learn the uncertainty from the record of output.",
    "compare": "What-ifs side by side (waits, deliveries, export).",
    "size": "The least-cost capacity that meets a wait target.",
    "allocate": "Monthly export quotas per market (HiGHS).",
    "sequence": "A line-day's build order under its stations.",
}
for info in app.registered_commands:
    name = info.name or (info.callback.__name__ if info.callback else "")
    info.short_help = info.short_help or SHORT.get(name)


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    state["debug"] = debug


def main() -> None:
    """Entry point: one clear line and exit code 2 on a user error."""
    args = debug_first(sys.argv[1:])
    state["debug"] = args[:1] == ["--debug"]
    try:
        code = app(args=args, prog_name="promiseline", standalone_mode=False)
        if isinstance(code, int) and code:  # the code of a typer.Exit
            sys.exit(code)
    except PromiselineError as e:
        fail(str(e), getattr(e, "problems", [])[1:])
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as e:  # usage errors and the unexpected
        if is_usage_error(e):
            e.show()  # type: ignore[attr-defined]
            sys.exit(2)
        fail(f"{type(e).__name__}: {e}" + ("" if state["debug"] else " (--debug shows where)"))
