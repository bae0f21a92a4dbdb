"""The CLI: commands run end to end, errors are one clear line with exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

from promiseline import api, cli
from promiseline.store import open_store
from tests.conftest import DATA
from tests.store.conftest import write_history

TINY = str(DATA / "tiny.yaml")
ORDERS = str(DATA / "tiny_orders.csv")


def quote_args(model: str = "A", variant: str = "S", *extra: str) -> tuple[str, ...]:
    return ("quote", TINY, ORDERS, "--model", model, "--variant", variant, "--market", "CN", *extra)


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", ["promiseline", *args])
    monkeypatch.setattr(cli.out, "width", 200)
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = int(e.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_plan_writes_outputs(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """plan writes plan.parquet, plan.csv and summary.json and prints the summary."""
    code, out, _ = run(capsys, monkeypatch, "plan", TINY, ORDERS, "-o", str(tmp_path))
    assert code == 0
    assert "Waits from lock to delivery" in out
    table = pl.read_parquet(tmp_path / "plan.parquet")
    assert table.equals(
        pl.read_csv(tmp_path / "plan.csv", try_parse_dates=True, schema_overrides=table.schema)
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["orders"]["planned"] == (table["status"] == "planned").sum()


def with_bad_row(tmp_path: Path) -> str:
    """The tiny order book with one bad row on CSV line 4."""
    src = tmp_path / "o.csv"
    lines = Path(ORDERS).read_text().splitlines()
    lines.insert(3, "bad1,Z,S,,CN,2025-01-01T00:00:00,0,locked,,")
    src.write_text("\n".join(lines) + "\n")
    return str(src)


def test_plan_lists_bad_rows_and_plans_the_rest(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Bad rows are listed with their CSV line numbers and the good rows planned, but the
    exit code is 1 unless --accept-rejected."""
    src = with_bad_row(tmp_path)
    code, _out, err = run(capsys, monkeypatch, "plan", TINY, src, "-o", str(tmp_path / "o"))
    assert code == 1
    assert "row 4 order 'bad1': unknown model 'Z'" in err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["rejected_rows"][0]["row"] == 4
    assert summary["orders"]["loaded"] == 40
    code, _out, err = run(
        capsys, monkeypatch, "plan", TINY, src, "-o", str(tmp_path / "o2"), "--accept-rejected"
    )
    assert code == 0
    assert "row 4 order 'bad1'" in err
    assert (tmp_path / "o2" / "summary.json").exists()


def sizing_scenario(tmp_path: Path) -> str:
    """The tiny scenario with uncertainty and a lever, for simulate and size."""
    import yaml

    sc = yaml.safe_load(Path(TINY).read_text())
    sc["uncertainty"] = {"uptime": {"mean": 0.9, "sd": 0.05}}
    sc["levers"] = [
        {"name": "hours", "kind": "shift", "line": "l1", "amount": 2, "cost": 5, "max_units": 2}
    ]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(sc))
    return str(scenario)


PATCH = str(DATA / "more-hours.yaml")


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


def test_quote_and_explain(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """quote prints a date; explain prints why."""
    args = quote_args("A", "M", "--when", "2025-01-20T09:00")
    code, out, _ = run(capsys, monkeypatch, *args)
    assert code == 0
    assert "delivered" in out
    assert "queue position" in out
    code, out, _ = run(capsys, monkeypatch, "explain", TINY, ORDERS, "o07")
    assert code == 0
    assert "Order o07 builds on" in out


def test_validate(capsys, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """validate says valid, or exits 1 listing rejected rows."""
    code, out, _ = run(capsys, monkeypatch, "validate", TINY, ORDERS)
    assert code == 0
    assert "valid" in out
    assert "0 rejected" in out
    bad = tmp_path / "b.csv"
    bad.write_text("order_id,model,variant,market,locked_at\nx,A,S,CN,never\n")
    code, _, err = run(capsys, monkeypatch, "validate", TINY, str(bad))
    assert code == 1
    assert "row 2 order 'x': unparsable locked_at 'never'" in err


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


def test_demo_runs_end_to_end(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The demo plans the embedded surge and its printed waits come from the plan."""
    code, out, _ = run(capsys, monkeypatch, "demo", "-o", str(tmp_path))
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    yu7 = next(r for r in summary["waits_by_model"] if r["model"] == "YU7")
    assert yu7["orders"] > 240_000
    assert f"{yu7['median_wait_days']:.0f}" in out
    assert yu7["p90_wait_days"] > 180  # the surge waits months: the model says so
    table = pl.read_parquet(tmp_path / "plan.parquet")
    assert table.filter(pl.col("model") == "YU7")["wait_days"].median() == yu7["median_wait_days"]
    assert str(tmp_path) in out
    bt = json.loads((tmp_path / "backtest.json").read_text())
    assert bt["orders_scored"] > 0
    assert f"calibration: {bt['verdict']}" in out.replace("\n", " ")


def test_import_export_and_key(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Orders import into a database whole and export back; a key is made there."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    assert code == 0
    assert "imported 40 orders" in out
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    assert code == 1  # the same ids again: all rejected rows, nothing written twice
    assert "imported 0 orders" in out
    code, out, _ = run(capsys, monkeypatch, "export", str(tmp_path / "all.csv"), "--db", db)
    assert code == 0
    assert pl.read_csv(tmp_path / "all.csv").height == 40
    code, out, _ = run(capsys, monkeypatch, "key", "planner", "--db", db)
    assert code == 0
    assert "pl_planner_" in out


def test_simulate_compare_size_commands(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """simulate writes windows, bands and charts; compare prints; size answers."""
    scenario = sizing_scenario(tmp_path)
    code, out, _ = run(
        capsys,
        monkeypatch,
        "simulate",
        str(scenario),
        ORDERS,
        "--futures",
        "8",
        "-o",
        str(tmp_path / "sim"),
    )
    assert code == 0
    assert "Monte Carlo: 8 futures" in out
    windows = pl.read_parquet(tmp_path / "sim" / "windows.parquet")
    assert {"build_p10", "build_p50", "build_p90", "p_cancel"} <= set(windows.columns)
    for name in ("backlog.png", "waits.png", "utilization.png", "binding.png", "report.html"):
        assert (tmp_path / "sim" / name).stat().st_size > 1000
    assert 'id="overview-data"' in (tmp_path / "sim" / "report.html").read_text()
    patch = str(Path(TINY).parent / "more-hours.yaml")
    code, out, _ = run(
        capsys,
        monkeypatch,
        "compare",
        str(scenario),
        ORDERS,
        patch,
        "--futures",
        "5",
        "-o",
        str(tmp_path / "cmp"),
    )
    assert code == 0
    assert "more-hours P90" in out
    assert "Deliveries per month, 2025-01 through 2025-03 (every month)" in out
    assert "Line utilization from 2025-01-01 through 2025-02-14" in out
    assert "Monte Carlo (5 futures)" in out
    assert (tmp_path / "cmp" / "compare.png").exists()
    code, out, _ = run(
        capsys, monkeypatch, "size", str(scenario), ORDERS, "--target", "max_wait<=200d"
    )
    assert code == 0
    assert "met" in out


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

    monkeypatch.setattr(cli.api, "plan", broken)
    code, _out, err = run(capsys, monkeypatch, "plan", TINY, ORDERS, "-o", "unused")
    assert (code, err) == (2, "error: RuntimeError: boom (--debug shows where)\n")
    code, _out, err = run(capsys, monkeypatch, "plan", TINY, ORDERS, "--debug", "-o", "unused")
    assert code == 2
    assert "Traceback" in err
    assert 'raise RuntimeError("boom")' in err
    assert err.rstrip().splitlines()[-1] == "error: RuntimeError: boom"


def test_utilization_table_adds_up_over_its_stated_dates(
    tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The plan's utilization table states its dates; built / capacity is its utilization."""
    code, out, _ = run(capsys, monkeypatch, "plan", TINY, ORDERS, "-o", str(tmp_path))
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (
        f"Line utilization from {summary['utilization_from']} through "
        f"{summary['utilization_through']}" in out
    )
    (line,) = summary["lines"]
    row = next(r for r in out.splitlines() if " l1 " in r).replace("│", " ").split()
    assert row[-3:] == [f"{line['built']:,}", f"{line['capacity']:,}", f"{line['utilization']:.1%}"]
    assert line["utilization"] == round(line["built"] / line["capacity"], 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--db", "postgresql://app:secret@127.0.0.1:1/orders"),
            "database postgresql://app:***@127.0.0.1:1/orders",
        ),
        (("--db", "sqlite:////no/such/folder/x.db"), "database sqlite:////no/such/folder/x.db"),
        (("--db", "mysql://x"), "unknown database URL"),
        (("--admin-key", "short"), "at least 32 characters, got 5"),
        (("--webhook", "http://127.0.0.1:9/h"), "PROMISELINE_WEBHOOK_SECRET"),
    ],
)
def test_serve_start_up_errors_are_one_line(  # type: ignore[no-untyped-def]
    capsys, monkeypatch, args: tuple[str, ...], message: str
) -> None:
    """A service that cannot start says why in one line naming the database (no password),
    exit code 2, before any worker starts."""
    monkeypatch.delenv("PROMISELINE_ADMIN_KEY", raising=False)
    monkeypatch.delenv("PROMISELINE_WEBHOOK_SECRET", raising=False)
    code, _, err = run(capsys, monkeypatch, "serve", *args)
    assert code == 2
    assert message in err
    assert ":secret@" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_key_export_and_import_into_a_database(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`key` makes a key the service accepts (same pepper); `import` checks rows against the
    database's own scenario and moves the book's version."""
    from promiseline.service.access import Access
    from promiseline.store import open_store

    db = f"sqlite:///{tmp_path / 'k.db'}"
    monkeypatch.setenv("PROMISELINE_PEPPER", "cli-pepper")
    code, out, _ = run(capsys, monkeypatch, "key", "planner", "--db", db)
    assert code == 0
    secret = out.strip().split(": ")[1]
    store = open_store(db)
    assert Access(store, b"cli-pepper").role(secret) == "planner"
    store.put_scenario(Path(TINY).read_text())
    store.close()
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--accept-rejected")
    assert code == 0, out
    store = open_store(db)
    assert store.versions().book == 1
    store.close()


def test_import_rejects_orders_already_stored(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Importing a book again imports nothing twice: the stored ids are rejected rows
    (exit 1), the new ones go in."""
    db = f"sqlite:///{tmp_path / 'i.db'}"
    head = Path(ORDERS).read_text().splitlines()
    part = tmp_path / "part.csv"
    part.write_text("\n".join(head[:6]) + "\n")
    assert run(capsys, monkeypatch, "import", str(part), "--db", db, "--scenario", TINY)[0] == 0
    code, out, err = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    assert code == 1
    assert "row 2 order 'o00': order id already in the database" in err
    assert f"imported {len(head) - 6:,} orders" in out


def test_in_memory_sqlite_is_refused(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An in-memory SQLite URL would give every connection its own empty database."""
    code, _, err = run(capsys, monkeypatch, "serve", "--db", "sqlite:///:memory:")
    assert code == 2
    assert "in-memory database" in err


def test_backtest_writes_scores_and_charts(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The backtest command: one line of verdict, the JSON the issue names, the charts."""
    patch = tmp_path / "worse.yaml"
    patch.write_text("uncertainty:\n  uptime: {mean: 0.5, sd: 0.1}\n")
    args = ("backtest", TINY, ORDERS, "--span", "2w", "--every", "1w", "--futures", "10")
    code, out, _ = run(capsys, monkeypatch, *args, "--reality", str(patch), "-o", str(tmp_path))
    assert code == 0, out
    j = json.loads((tmp_path / "backtest.json").read_text())
    for key in (
        "orders_scored",
        "coverage_p10_p90",
        "coverage_latest",
        "on_time_first_promise",
        "on_time_latest_promise",
        "mean_abs_error_days_first",
        "crps_days",
        "pit_histogram",
        "churn_per_order",
        "p95_lateness_days",
        "by_weeks_ahead",
    ):
        assert key in j
    assert j["realities"] == ["worse"]
    assert j["verdict"] in out.replace("\n", " ")
    for name in ("pit.png", "weeks_ahead.png", "churn.png", "backtest.html"):
        assert (tmp_path / name).stat().st_size > 1000
    code, _, err = run(capsys, monkeypatch, "backtest", TINY, ORDERS, "--every", "soon")
    assert code == 2
    assert "expected days such as 7d" in err


def test_serve_futures_out_of_range_is_refused(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--futures (or PROMISELINE_FUTURES) is checked before anything starts."""
    code, _, err = run(capsys, monkeypatch, "serve", "--futures", "9999")
    assert code == 2
    assert "--futures" in err
    monkeypatch.setenv("PROMISELINE_FUTURES", "-1")
    code, _, err = run(capsys, monkeypatch, "serve")
    assert code == 2
    assert "--futures" in err


def test_backtest_from_a_database_history(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--db scores what a deployment told its delivered orders: the JSON, the verdict
    line, the charts; a mistyped path or a replay argument beside it is refused."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    store = open_store(db)
    write_history(store)
    store.close()
    out_dir = tmp_path / "bt"
    code, out, err = run(capsys, monkeypatch, "backtest", "--db", db, "-o", str(out_dir))
    assert code == 0, err
    j = json.loads((out_dir / "backtest.json").read_text())
    assert j == json.loads(json.dumps(api.backtest_history(db).to_json()))
    assert (j["source"], j["orders_scored"]) == ("database", 3)
    assert f"calibration: {j['verdict']}" in out.replace("\n", " ")
    assert "WIS" in out
    for name in ("pit.png", "weeks_ahead.png", "churn.png", "backtest.html"):
        assert (out_dir / name).stat().st_size > 1000
    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    code, _, err = run(capsys, monkeypatch, "backtest", "--db", missing)
    assert code == 2
    assert "no SQLite database file" in err
    assert not (tmp_path / "typo.db").exists()
    code, _, err = run(capsys, monkeypatch, "backtest", TINY, "--db", db)
    assert code == 2
    assert "give no SCENARIO" in err


def test_report_is_one_self_contained_page(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """report: the overview in one file, with its data, styles and scripts inlined and
    no address to load anything from."""
    out = tmp_path / "r" / "report.html"
    code, _text, err = run(capsys, monkeypatch, "report", TINY, ORDERS, "-o", str(out))
    assert code == 0, err
    html = out.read_text()
    for inlined in ('id="overview-data"', "uPlot", "chart-backlog", "Waits from lock to delivery"):
        assert inlined in html
    assert "src=" not in html
    assert 'href="/' not in html
    assert "http" not in html.split("<script>")[0]
