"""What every command shares: rejected rows exit 1, a user error is one line with exit
code 2 (a traceback only with --debug), files that cannot be read are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from promiseline import api
from tests.cli.conftest import ORDERS, PATCH, TINY, quote_args, run, sizing_scenario, with_bad_row


@pytest.mark.parametrize(
    "command",
    [
        ("quote", "{s}", "{o}", "--model", "A", "--variant", "S", "--market", "CN"),
        ("explain", "{s}", "{o}", "o07"),
        ("simulate", "{s}", "{o}", "--futures", "2", "-o", "{tmp}/sim"),
        ("compare", "{s}", "{o}", PATCH, "-o", "{tmp}/cmp"),
        ("size", "{s}", "{o}", "--target", "max_wait<=200d"),
        ("import", "{o}", "--db", "sqlite:///{tmp}/o.db", "--scenario", "{s}"),
    ],
    ids=lambda c: c[0],
)
def test_every_planning_command_exits_1_on_rejected_rows(
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
    monkeypatch,
    command: tuple[str, ...],
) -> None:
    """quote, explain, simulate, compare, size and import list rejected rows and exit 1;
    with --accept-rejected they exit 0."""
    fill = {"s": sizing_scenario(tmp_path), "o": with_bad_row(tmp_path), "tmp": str(tmp_path)}
    args = [a.format(**fill) for a in command]
    code, _out, err = run(capsys, monkeypatch, *args)
    assert "row 4 order 'bad1': unknown model 'Z'" in err
    assert code == 1
    if command[0] == "import":  # the good rows are in: import them into a new database
        args[args.index("--db") + 1] = f"sqlite:///{tmp_path}/again.db"
    code, _out, err = run(capsys, monkeypatch, *args, "--accept-rejected")
    assert "row 4 order 'bad1'" in err
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plan", "missing.yaml", ORDERS), "missing.yaml: cannot read file"),
        (("plan", TINY, "demo"), "ORDERS 'demo' is the demo's order book"),
        (("plan", TINY, PATCH), "more-hours.yaml: expected an order book"),
        (quote_args("A", "S", "--option", "paint:black"), "expected NAME=VALUE"),
        (quote_args("A", "S", "--option", "a=1", "--option", "a=2"), "'a' given twice"),
        (("plan", TINY, "missing.csv"), "missing.csv: no such order-book file"),
        (("explain", TINY, ORDERS, "nope"), "order 'nope' is not in the plan"),
        (quote_args("B"), "unknown model 'B'"),
        (quote_args("A", "S", "--when", "soon"), "--when: expected an ISO 8601"),
    ],
)
def test_errors_are_one_line_exit_2(capsys, monkeypatch, args, message) -> None:  # type: ignore[no-untyped-def]
    """A user error prints one line with what is wrong, no traceback, and exits 2."""
    code, _, err = run(capsys, monkeypatch, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


FILE_ERRORS = {  # name: (content, or None for a folder; the command, FILE for it; message)
    "folder.csv": (None, ("plan", TINY, "FILE"), "is a directory"),
    "folder.yaml": (None, ("plan", "FILE", ORDERS), "cannot read file: Is a directory"),
    "random.csv": (bytes(range(128, 256)) * 8, ("plan", TINY, "FILE"), "not UTF-8 text"),
    "utf16.csv": (Path(ORDERS).read_text().encode("utf-16"), ("plan", TINY, "FILE"), "UTF-16"),
    "nul.csv": (b"order_id,model\x00\n", ("plan", TINY, "FILE"), "binary data"),
    "picture.parquet": (_png(), ("plan", TINY, "FILE"), "not a Parquet file"),
    "empty.csv": (b"", ("plan", TINY, "FILE"), "empty file"),
    "blank.csv": (b"\n\n", ("plan", TINY, "FILE"), "empty file"),
    "empty.parquet": (b"", ("plan", TINY, "FILE"), "empty file"),
    "scenario.yaml": (_png(), ("plan", "FILE", ORDERS), "not UTF-8 text"),
    "empty.yaml": (b"", ("validate", "FILE"), "empty: no YAML content"),
    "patch.yaml": (_png(), ("compare", TINY, ORDERS, "FILE"), "not UTF-8 text"),
    "nothing.yaml": (b"", ("compare", TINY, ORDERS, "FILE"), "empty: no YAML content"),
    "gone.csv": (b"", ("import", "FILE", "--scenario", TINY), "no such order-book file"),
}


@pytest.mark.parametrize("name", FILE_ERRORS)
def test_file_errors_name_the_file_in_one_line(
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
    monkeypatch,
    name: str,
) -> None:
    """A missing, folder, binary, undecodable or empty file is one line on stderr naming
    it, exit code 2, no traceback."""
    content, command, message = FILE_ERRORS[name]
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif name != "gone.csv":
        path.write_bytes(content)
    args = [str(path) if a == "FILE" else a for a in command]
    if args[0] == "import":
        args += ["--db", f"sqlite:///{tmp_path}/o.db"]
    if args[0] in ("plan", "compare"):
        args += ["-o", str(tmp_path / "out")]
    code, _out, err = run(capsys, monkeypatch, *args)
    assert code == 2
    assert err.startswith(f"error: {path}: ")
    assert message in err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command", ["plan", "quote", "explain", "simulate", "compare", "size", "backtest"]
)
def test_a_custom_scenario_needs_its_orders(capsys, monkeypatch, command: str) -> None:  # type: ignore[no-untyped-def]
    """Without ORDERS a custom scenario is a usage error (exit 2), never silently planned
    with the demo's order book."""
    code, _out, err = run(capsys, monkeypatch, command, TINY)
    assert code == 2
    assert "Missing argument 'ORDERS'" in err


def test_demo_orders_go_with_the_demo_scenario(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """'demo' for ORDERS is the demo's generated book, with the demo scenario."""
    code, out, _ = run(capsys, monkeypatch, "validate", "demo", "demo")
    assert code == 0
    assert "533,166 orders loaded, 0 rejected" in out  # 524,247 at home, 8,919 from Europe


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_of_a_user_error(capsys, monkeypatch, where: str) -> None:  # type: ignore[no-untyped-def]
    """--debug, before or after the command name, shows the traceback, then the one line."""
    args = ("plan", "missing.yaml", ORDERS)
    args = ("--debug", *args) if where == "before" else (*args, "--debug")
    code, _out, err = run(capsys, monkeypatch, *args)
    assert code == 2
    assert "Traceback" in err
    assert "ScenarioError" in err
    assert (
        err.rstrip().splitlines()[-1]
        == "error: missing.yaml: cannot read file: No such file or directory"
    )


def test_debug_shows_the_traceback_of_an_unexpected_error(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An unexpected exception is one line without --debug, its traceback with it."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "plan", broken)
    code, _out, err = run(capsys, monkeypatch, "plan", TINY, ORDERS, "-o", "unused")
    assert (code, err) == (2, "error: RuntimeError: boom (--debug shows where)\n")
    code, _out, err = run(capsys, monkeypatch, "plan", TINY, ORDERS, "--debug", "-o", "unused")
    assert code == 2
    assert "Traceback" in err
    assert 'raise RuntimeError("boom")' in err
    assert err.rstrip().splitlines()[-1] == "error: RuntimeError: boom"


def test_help_and_tables_are_whole_at_80_columns(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """At 80 columns nothing is cut: `serve --help` (its widest options were two-name
    flags and a default URL, cut with an ellipsis) and a table too wide for the terminal,
    which is stacked row by row with every name, figure and date whole."""
    from rich.console import Console
    from typer.testing import CliRunner

    from promiseline.cli import app
    from promiseline.cli.shared import table

    monkeypatch.setenv("COLUMNS", "80")
    helped = CliRunner().invoke(app, ["serve", "--help"])
    assert helped.exit_code == 0
    assert "…" not in helped.output
    assert "sqlite:///promiseline.db" in helped.output
    rows = [
        ("tianjin-zeebrugge-no", "2027-01-04", "2027-02-01", "2,671", "3,000", "89%"),
        ("homologation-slip", "2027-09-20", "2027-10-04", "6,519", "12,000", "54%"),
    ]
    cols = ("lane", "first sailing", "last sailing", "loaded", "seats", "used")
    for width in (60, 80, 200):
        con = Console(width=width, record=True)
        con.print(table("Sailings", cols, rows))
        text = con.export_text()
        assert "…" not in text
        assert all(len(line) <= width for line in text.splitlines())
        words = set(text.replace("│", " ").replace("·", " ").split())
        assert all(v in words for r in rows for v in r), text
        if "┃" not in text:  # stacked: each label on the line of its value
            lines = text.splitlines()
            for r in rows:
                for col, v in zip(cols[1:], r[1:], strict=True):
                    assert any(f"{col} {v}" in ln for ln in lines), (col, v, text)


def test_long_headers_over_short_figures_wrap_instead_of_running_off() -> None:
    """`fit`'s spells table: headers longer than their figures made rich draw it wider
    than 80 columns ("days sd" cut to "days s"); now its headers wrap between words."""
    from rich.console import Console

    from promiseline.cli.shared import table

    cols = ("line or part", "spells", "per year", "depth mean", "depth sd", "days mean", "days sd")
    rows = [("p1-final", "0 in 0.7 y", "0.00 ± n/a", "", "", "", "1.5")]
    for width in (70, 80):
        con = Console(width=width, record=True)
        con.print(table("Slowdowns per line, outages per part", cols, rows))
        text = con.export_text()
        assert all(len(line.rstrip()) <= width for line in text.splitlines()), text
        assert text.count("┃") // 2 >= 8  # a table (two header rows), not stacked rows
        assert "1.5 │" in text
        assert "sd ┃" in text


def test_the_command_list_is_whole() -> None:
    """`promiseline --help` lists every command on one line that click does not cut
    (its docstrings' first lines were cut with '...' at 80 columns)."""
    from typer.testing import CliRunner

    from promiseline.cli import SHORT, app

    shown = [i for i in app.registered_commands if not i.hidden]
    names = {i.name or (i.callback.__name__ if i.callback else "") for i in shown}
    assert names == set(SHORT)
    helped = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"})
    assert helped.exit_code == 0
    listed = helped.output.split("Commands:")[1]
    assert "..." not in listed
    assert all(SHORT[n] in listed for n in names)
