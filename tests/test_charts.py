"""Every chart says the moment it was made as of: the title names the day, and each time
axis has the as-of line (gid AS_OF) at that day, inside the axis. Read from the figures
before they are saved (the `*_figures` functions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from matplotlib.dates import date2num

from promiseline import api
from promiseline.charts import (
    AS_OF,
    _bucket_x,
    _month,
    _week,
    backtest_day,
    backtest_figures,
    compare_figure,
    export_figure,
    plan_figures,
)
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import Plan
from promiseline.io.scenario_file import scenario_from_dict
from tests.conftest import DATA
from tests.test_export_attacks import BASE, orders_csv

MOMENT = dt.datetime(2025, 1, 8, 9)  # a Wednesday, a week into the tiny scenario
DAY = MOMENT.date()


def _plan(scenario: Scenario) -> Plan:
    return api.plan(scenario, api.load_orders(DATA / "tiny_orders.csv", scenario))


@pytest.fixture
def figures() -> Iterator[list[Any]]:
    """The figures a test made, closed after it."""
    made: list[Any] = []
    yield made
    import matplotlib.pyplot as plt

    for fig in made:
        plt.close(fig)


def marks(fig: Any) -> list[tuple[Any, float]]:
    """(axes, x) of each as-of line in `fig`."""
    return [
        (ax, float(line.get_xdata()[0]))
        for ax in fig.axes
        for line in ax.get_lines()
        if line.get_gid() == AS_OF
    ]


def labels(fig: Any) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == AS_OF]


def titles(fig: Any) -> str:
    own = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    return " | ".join([own, *(ax.get_title() for ax in fig.axes)])


def assert_marked(fig: Any, x: float, day: dt.date, axes: int = 1) -> None:
    """`axes` as-of lines, each at `x` and inside its axis, each named; the day in a title."""
    found = marks(fig)
    assert len(found) == axes, found
    for ax, at in found:
        assert at == pytest.approx(x)
        lo, hi = ax.get_xlim()
        assert lo <= at <= hi
    assert labels(fig) == [f"as of {day}"] * axes
    assert f"as of {day}" in titles(fig)


def test_plan_charts_mark_the_plans_day(tiny: Scenario, figures: list[Any]) -> None:
    """Backlog and held-back by day on date axes; utilization by week columns, the line a
    share into the day's week; the waits (no time axis) say it in the title."""
    figs = plan_figures(p := _plan(tiny.replace(as_of=MOMENT)), api.overview(p))
    figures.extend(figs.values())
    assert list(figs) == ["backlog", "waits", "utilization", "binding"]
    assert_marked(figs["backlog"], date2num(DAY), DAY)
    assert_marked(figs["binding"], date2num(DAY), DAY)
    # weeks from Monday 2024-12-30: the day is 2 days into the second column (index 1)
    assert_marked(figs["utilization"], 1 - 0.5 + 2 / 7, DAY)
    assert marks(figs["waits"]) == []
    assert f"as of {DAY}" in titles(figs["waits"])


def test_without_as_of_the_line_stands_at_start(tiny: Scenario, figures: list[Any]) -> None:
    """A plan without `as_of` is made as of `start`: the line is drawn there."""
    assert tiny.as_of is None
    figs = plan_figures(p := _plan(tiny), api.overview(p))
    figures.extend(figs.values())
    assert_marked(figs["backlog"], date2num(tiny.start), tiny.start)


def test_a_later_as_of_widens_the_axis(tiny: Scenario, figures: list[Any]) -> None:
    """Past the activity the line still shows: the date axis reaches it."""
    late = dt.datetime(2025, 2, 27)
    figs = plan_figures(p := _plan(tiny.replace(as_of=late)), api.overview(p))
    figures.extend(figs.values())
    assert_marked(figs["binding"], date2num(late.date()), late.date())


def test_export_chart_marks_each_panel(tmp_path: Path, figures: list[Any]) -> None:
    """Months of deliveries (bars), sailings and port yards: one line on each."""
    s = scenario_from_dict(BASE)
    fig = export_figure(api.plan(s, orders_csv(tmp_path)))
    figures.append(fig)
    found = marks(fig)
    assert len(found) == 3
    assert labels(fig) == [f"as of {s.now}"] * 3
    assert f"as of {s.now}" in fig.get_suptitle()
    months, sailings, yard = (x for _, x in found)
    assert months == -0.5  # before the first month of deliveries: its edge
    assert sailings == yard == date2num(s.now)


def test_comparison_marks_the_backlog(tiny: Scenario, figures: list[Any]) -> None:
    s = tiny.replace(as_of=MOMENT)
    cmp = api.compare(s, api.load_orders(DATA / "tiny_orders.csv", s), [DATA / "more-hours.yaml"])
    fig = compare_figure(cmp)
    figures.append(fig)
    assert_marked(fig, date2num(DAY), DAY)


def test_backtest_charts_say_the_day(tiny: Scenario, figures: list[Any]) -> None:
    """No time axis: every title says the day the replays start from, which a replay
    backtest must be given."""
    s = tiny.replace(as_of=MOMENT)
    book = api.load_orders(DATA / "tiny_orders.csv", s)
    bt = api.backtest(s, book, futures=4, every_days=7, span_days=14)
    figs = backtest_figures(bt, backtest_day(bt, s.now))
    figures.extend(figs.values())
    for fig in figs.values():
        assert marks(fig) == []
        assert f"as of {DAY}" in titles(fig)
    with pytest.raises(ValueError, match="as of"):
        backtest_day(bt, None)


@pytest.mark.parametrize(
    ("day", "x"),
    [
        (dt.date(2025, 1, 6), -0.5),  # the first bucket's first day: its left edge
        (dt.date(2025, 1, 9), -0.5 + 3 / 7),
        (dt.date(2025, 1, 20), 0.5),  # a gap (no week of 13 January): the next's edge
        (dt.date(2025, 1, 1), -0.5),  # before every bucket
        (dt.date(2025, 2, 1), 1.5),  # after every bucket
    ],
)
def test_bucket_position(day: dt.date, x: float) -> None:
    assert _bucket_x([dt.date(2025, 1, 6), dt.date(2025, 1, 20)], day, _week) == pytest.approx(x)


def test_bucket_position_in_months() -> None:
    """A month's share gone counts its own length (February's 28 days)."""
    starts = [dt.date(2025, 1, 1), dt.date(2025, 2, 1)]
    assert _bucket_x(starts, dt.date(2025, 2, 15), _month) == pytest.approx(0.5 + 14 / 28)


def test_every_month_shows_a_gap_as_zeros() -> None:
    """export.png's month axis is categorical: the months without deliveries are rows of
    zeros, so October 2026 to February 2027 is not drawn as next to each other."""
    import polars as pl

    from promiseline.charts import every_month

    grid = pl.DataFrame({"month": ["2027-02", "2026-10"], "DE": [5, 3], "NO": [1, 0]})
    assert every_month(grid).rows() == [
        ("2026-10", 3, 0),
        ("2026-11", 0, 0),
        ("2026-12", 0, 0),
        ("2027-01", 0, 0),
        ("2027-02", 5, 1),
    ]
    assert every_month(grid.head(0)).height == 0
