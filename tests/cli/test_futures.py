"""simulate, backtest (a replay, or a database's history) and report."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from promiseline import api
from promiseline.core.model.scenario import Scenario
from promiseline.store import open_store
from tests.cli.conftest import ORDERS, TINY, run, sizing_scenario
from tests.store.conftest import write_history


def test_simulate_writes_windows_bands_and_charts(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """simulate prints the run and writes windows, bands, the charts and the report."""
    scenario = sizing_scenario(tmp_path)
    code, out, err = run(
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
    assert "warning" not in err  # its uncertainty varies: nothing to warn of
    code, _, err = run(
        capsys, monkeypatch, "simulate", TINY, ORDERS, "--futures", "2", "-o", str(tmp_path / "c")
    )
    assert code == 0
    assert "warning: the scenario has no `uncertainty`" in " ".join(err.split())
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
    code, out, err = run(capsys, monkeypatch, *args, "--reality", str(patch), "-o", str(tmp_path))
    assert code == 0, out
    assert "warning: the scenario has no `uncertainty`" in " ".join(err.split())
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
    assert "Recalibration at work" in out  # by the weeks told: the model's own beside
    for name in ("pit.png", "weeks_ahead.png", "churn.png", "backtest.html"):
        assert (tmp_path / name).stat().st_size > 1000
    page = (tmp_path / "backtest.html").read_text()
    assert "from the plan as of 2025-01-01" in page
    assert "Recalibration at work" in page
    code, _, err = run(capsys, monkeypatch, "backtest", TINY, ORDERS, "--every", "soon")
    assert code == 2
    assert "expected days such as 7d" in err
    assert "--every" in err  # which option (a new user's walk found it unnamed)
    code, _, err = run(capsys, monkeypatch, "backtest", TINY, ORDERS, "--span", "0d")
    assert code == 2
    assert "--span" in err
    assert "at least one day" in err
    code, out, err = run(
        capsys, monkeypatch, "backtest", TINY, ORDERS, "--span", "2w", "--futures", "0"
    )
    assert code != 0
    assert "futures must be 1 to 65,535, got 0" in out + err
    assert "ValueError" not in out + err  # a new user's walk found the class name shown


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


def fit_inputs(tmp_path: Path) -> tuple[str, str]:
    """The two-line scenario of tests/core/futures/test_fit.py as a file, and 300 days
    of its simulated output as a CSV."""
    import yaml

    from tests.core.futures.test_fit import TWO_LINES, scenario, simulate

    sc = tmp_path / "two.yaml"
    sc.write_text(
        "# two lines\n" + yaml.safe_dump(TWO_LINES, sort_keys=False) + "levers: []   # kept\n"
    )
    history = tmp_path / "out.csv"
    simulate(scenario(), seed=3, days=300).write_csv(history)
    return str(sc), str(history)


def test_fit_writes_a_scenario_with_the_fitted_uncertainty(
    tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    sc, history = fit_inputs(tmp_path)
    out_yaml = tmp_path / "fitted.yaml"
    code, out, err = run(
        capsys, monkeypatch, "fit", sc, "--output-history", history, "-o", str(out_yaml)
    )
    assert code == 0, err
    assert "Uptime fitted from" in out
    assert "± " in out
    assert "Wrote" in err
    s = api.load_scenario(out_yaml)
    assert s.uncertainty is not None
    assert set(s.uncertainty.line_uptime) == {"a", "b"}
    assert 0.85 < s.uncertainty.line_uptime["a"].mean < 1
    text = out_yaml.read_text()
    assert text.startswith("# two lines\n")
    assert "levers: []   # kept" in text
    assert "promiseline fit" in text


def test_fit_the_demo_from_its_own_history(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`fit demo --output-history demo` prints the table and the section it would write."""
    code, out, err = run(capsys, monkeypatch, "fit", "demo", "--output-history", "demo")
    assert code == 0, err
    assert "p1-final" in out
    assert out.count("uncertainty:") == 1
    assert "memory_days:" in out
    assert "p2-final: {mean: 0.92, sd: 0.07}" in out  # the line without a record, as it was


def test_fit_from_the_store(tmp_path: Path, tiny: Scenario, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--db: the orders a service's database holds as built, per line and day."""
    import datetime as dt

    import numpy as np

    from promiseline.core.model.orders import validate_orders

    rng = np.random.default_rng(1)
    rows = []
    day = dt.date(2025, 1, 6)
    while day < dt.date(2025, 6, 1):
        if day.weekday() < 5 and not dt.date(2025, 1, 20) <= day <= dt.date(2025, 1, 24):
            for k in range(int(rng.integers(1, 4))):
                rows.append((f"b{day:%m%d}{k}", day))
        day += dt.timedelta(days=1)
    book = pl.DataFrame(
        {
            "order_id": [r[0] for r in rows],
            "model": "A",
            "variant": "S",
            "market": "CN",
            "locked_at": "2025-01-01T08:00:00",
            "status": "built",
            "line": "l1",
            "build_date": [str(r[1]) for r in rows],
        }
    )
    url = f"sqlite:///{tmp_path / 'o.db'}"
    store = open_store(url)
    store.import_orders(validate_orders(book, tiny), dt.datetime(2025, 6, 1))
    store.close()
    out_yaml = tmp_path / "fitted.yaml"
    code, out, err = run(capsys, monkeypatch, "fit", TINY, "--db", url, "-o", str(out_yaml))
    assert code == 0, err
    assert f"from database {url}" in out.replace("\n", "")
    fitted = api.load_scenario(out_yaml)
    assert fitted.uncertainty is not None
    assert 0.3 < fitted.uncertainty.line_uptime["l1"].mean < 1


def test_fit_refuses_what_it_cannot_read(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sc, history = fit_inputs(tmp_path)
    code, _, err = run(capsys, monkeypatch, "fit", sc)
    assert code == 2
    assert "--output-history FILE or --db URL" in err
    code, _, err = run(capsys, monkeypatch, "fit", sc, "--output-history", "demo")
    assert code == 2
    assert "goes only with the demo scenario" in err
    bad = tmp_path / "bad.csv"
    bad.write_text(Path(history).read_text().replace("2023-01-05,a,", "2023-01-05,z,", 1))
    code, _, err = run(capsys, monkeypatch, "fit", sc, "--output-history", str(bad))
    assert code == 2
    assert "unknown line 'z', expected one of ['a', 'b']" in err
    bad.write_text("date,line,built\n2023-01-05,a,-4\n")
    code, _, err = run(capsys, monkeypatch, "fit", sc, "--output-history", str(bad))
    assert code == 2
    assert "row 2: column built: '-4' is not a whole number >= 0" in err


SCORES = {  # a backtest.json's headline scores
    "orders_scored": 10,
    "verdict": "calibrated",
    "on_time_first_promise": 0.8,
    "on_time_latest_promise": 0.9,
    "churn_per_order": 0.1,
    "replays": 2,
}


def test_the_calibration_line_counts_realities_in_words() -> None:
    """ "1 reality", "3 realities": never "reality(ies)"."""
    from promiseline.cli import calibration_line

    j = SCORES
    assert "10 orders, 1 reality, 2 replays (all orders" in calibration_line(j | {"seeds": [1]})
    line = calibration_line(j | {"seeds": [1, 2, 3]})
    assert "3 realities, 2 replays" in line
    assert "(ies)" not in line


def test_each_reality_shows_its_luck(capsys) -> None:  # type: ignore[no-untyped-def]
    """Two realities or more: a line each, with what it drew (one reality: no table)."""
    from promiseline.cli.readouts import luck_text, print_backtest

    luck = {
        "uptime": {"p1-final": 0.9312, "p2-final": 0.92},
        "ramp_slip_days": {"p2-final": 35},
        "supply_share": {"lidar": 0.97},
    }
    text = luck_text(luck)
    assert text == (
        "uptime p1-final 93.1%, p2-final 92.0%; p2-final ramp-up 35 d late; supply lidar 97.0%"
    )
    assert luck_text({}) == "-"
    row = {"promises": 0, "weeks": "0-3"}
    j = SCORES | {
        "by_weeks_ahead": [row],
        "per_reality": [
            {
                "seed": 16,
                "orders_scored": 5,
                "coverage_p10_p90": 0.53,
                "stated_p10_p90": 0.86,
                "luck": luck,
            },
            {"seed": 17, "orders_scored": 5, "coverage_p10_p90": 0.77, "stated_p10_p90": 0.89},
        ],
    }
    print_backtest(j | {"seeds": [16, 17]})
    out = capsys.readouterr().out
    assert "Each reality" in out
    assert "35 d late" in out.replace("\n", " ")
    print_backtest(j | {"seeds": [16], "per_reality": j["per_reality"][:1]})
    assert "Each reality" not in capsys.readouterr().out
