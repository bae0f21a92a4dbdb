"""simulate, backtest (a replay, or a database's history) and report."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from promiseline import api
from promiseline.store import open_store
from tests.cli.conftest import ORDERS, TINY, run, sizing_scenario
from tests.store.conftest import write_history


def test_simulate_writes_windows_bands_and_charts(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """simulate prints the run and writes windows, bands, the charts and the report."""
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
    assert "from the plan as of 2025-01-01" in (tmp_path / "backtest.html").read_text()
    code, _, err = run(capsys, monkeypatch, "backtest", TINY, ORDERS, "--every", "soon")
    assert code == 2
    assert "expected days such as 7d" in err


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
    said = (out_dir / "backtest.html").read_text()
    assert "as of 2026-03-10 (its last delivery)" in said  # the history's newest fact
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
