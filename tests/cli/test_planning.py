"""plan, quote, explain, validate, demo: run end to end, their files and figures."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.cli.conftest import ORDERS, TINY, quote_args, run, with_bad_row


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


def test_a_quote_notes_options_nobody_has(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Options are free text, so a typo quotes like a plain car: the quote says which
    option or value no order of the book has and no rule names, and still answers."""
    args = quote_args("A", "S", "--option", "roof=pan", "--option", "colour=red")
    code, out, err = run(capsys, monkeypatch, *args)
    assert code == 0
    assert "No date for" in out or "delivered" in out  # answered all the same
    assert "no order and no rule has an option 'colour' (known: roof)" in err
    assert "roof" not in err.split("colour")[0]  # roof=pan is known: no note of it
    code, _, err = run(capsys, monkeypatch, *quote_args("A", "M", "--option", "roof=pann"))
    assert code == 0
    assert "no order and no rule has roof=pann (known values of roof: pan)" in err


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


# A minute on 240,000 orders: the plan, summary and backtest commands on the tiny book and
# the demo what-ifs on a slice of the demo book (tests/io/test_whatifs.py) guard the same.
@pytest.mark.slow
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


def test_a_book_of_rejected_rows_prints_no_empty_readout(
    capsys, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Every row rejected: the plan says so and prints no empty waits table nor a
    "nothing held orders back" that would read as good news."""
    bad = tmp_path / "b.csv"
    bad.write_text("order_id,model,variant,market,locked_at\nx,A,S,CN,never\n")
    code, out, _ = run(capsys, monkeypatch, "plan", TINY, str(bad), "-o", str(tmp_path / "o"))
    assert code == 1
    assert "0 orders planned" in out
    assert "1 row rejected" in out
    assert "Waits from lock" not in out
    assert "every order built on its first possible day" not in out
