"""The CLI: commands run end to end, errors are one clear line with exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

from promiseline import cli
from tests.conftest import DATA

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


def test_plan_lists_bad_rows_and_plans_the_rest(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Bad rows are listed with their CSV line numbers; the good rows are planned."""
    src = tmp_path / "o.csv"
    lines = Path(ORDERS).read_text().splitlines()
    lines.insert(3, "bad1,Z,S,,CN,2025-01-01T00:00:00,0,locked,,")
    src.write_text("\n".join(lines) + "\n")
    code, _out, err = run(capsys, monkeypatch, "plan", TINY, str(src), "-o", str(tmp_path / "o"))
    assert code == 0
    assert "row 4 order 'bad1': unknown model 'Z'" in err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["rejected_rows"][0]["row"] == 4


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


def test_import_export_and_key(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Orders import into a database whole and export back; a key is made there."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    assert code == 0
    assert "imported 40 orders" in out
    code, out, _ = run(capsys, monkeypatch, "import", ORDERS, "--db", db, "--scenario", TINY)
    assert code == 2  # the same ids again: the whole import is refused
    code, out, _ = run(capsys, monkeypatch, "export", str(tmp_path / "all.csv"), "--db", db)
    assert code == 0
    assert pl.read_csv(tmp_path / "all.csv").height == 40
    code, out, _ = run(capsys, monkeypatch, "key", "planner", "--db", db)
    assert code == 0
    assert "pl_planner_" in out


def test_simulate_compare_size_commands(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """simulate writes windows, bands and charts; compare prints; size answers."""
    import yaml

    sc = yaml.safe_load(Path(TINY).read_text())
    sc["uncertainty"] = {"uptime": {"mean": 0.9, "sd": 0.05}}
    sc["levers"] = [
        {"name": "hours", "kind": "shift", "line": "l1", "amount": 2, "cost": 5, "max_units": 2}
    ]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(sc))
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
    for name in ("backlog.png", "waits.png", "utilization.png", "binding.png", "charts.html"):
        assert (tmp_path / "sim" / name).stat().st_size > 1000
    assert "plotly" in (tmp_path / "sim" / "charts.html").read_text()[:200_000]
    patch = str(Path(TINY).parent / "more-hours.yaml")
    code, out, _ = run(
        capsys,
        monkeypatch,
        "compare",
        str(scenario),
        patch,
        "--orders",
        ORDERS,
        "--futures",
        "5",
        "-o",
        str(tmp_path / "cmp"),
    )
    assert code == 0
    assert "more-hours P90" in out
    assert "Monte Carlo (5 futures)" in out
    assert (tmp_path / "cmp" / "compare.png").exists()
    code, out, _ = run(
        capsys, monkeypatch, "size", str(scenario), ORDERS, "--target", "max_wait<=200d"
    )
    assert code == 0
    assert "met" in out
