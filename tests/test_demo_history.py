"""The demo's daily output history (data/beijing-ev-output.csv): its quarters are the
public delivery figures, scripts/demo_output_history.py makes it again byte for byte,
and the demo scenario's fitted uptime is what `fit` learns from it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest

from promiseline import api
from promiseline.demo import demo_output_history, demo_yaml

ROOT = Path(__file__).resolve().parents[1]
# phase 1's deliveries per quarter, as shared/public-figures.md gives them
PUBLIC = {(2024, 4): 69_697, (2025, 1): 75_869, (2025, 2): 81_302}


def history() -> pl.DataFrame:
    return pl.read_csv(demo_output_history(), try_parse_dates=True)


def test_the_quarters_are_the_public_figures() -> None:
    """Each whole quarter sums to its figure; Q2 2025, which the history leaves on June
    25, to the share of the quarter's planned output it covers (about 96 %)."""
    df = history()
    assert df["line"].unique().to_list() == ["p1-final"]
    quarters = df.group_by(y=pl.col("date").dt.year(), q=pl.col("date").dt.quarter())
    sums = {(y, q): b for y, q, b in quarters.agg(pl.col("built").sum()).iter_rows()}
    assert sums[(2024, 4)] == pytest.approx(PUBLIC[(2024, 4)], rel=0.001)
    assert sums[(2025, 1)] == pytest.approx(PUBLIC[(2025, 1)], rel=0.001)
    assert sums[(2025, 2)] == pytest.approx(PUBLIC[(2025, 2)] * 0.957, rel=0.01)
    by_month = df.group_by(pl.col("date").dt.truncate("1mo")).agg(pl.col("built").sum())
    assert by_month["built"].min() > 20_000  # "about 20,000 a month" from late 2024


def test_the_script_makes_it_again() -> None:
    spec = importlib.util.spec_from_file_location(
        "made", ROOT / "scripts" / "demo_output_history.py"
    )
    assert spec is not None
    assert spec.loader is not None
    made = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(made)
    assert made.FIGURES == PUBLIC
    assert made.history().write_csv() == demo_output_history().read_text(encoding="utf-8")


def test_the_demo_uptime_is_what_fit_learns() -> None:
    """The demo's p1-final uptime is the fit of its history; fitting it again gives the
    demo's YAML back, line for line."""
    s = api.load_scenario()
    result = api.fit(s, "demo")
    (line,) = result.lines
    assert line.line == "p1-final"
    assert s.uncertainty is not None
    assert s.uncertainty.line_uptime["p1-final"] == line.uptime()
    assert line.slowdowns.count == 0
    assert api.fitted_scenario("demo", result) == demo_yaml()
