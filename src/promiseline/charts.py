"""Charts of a plan, a Monte Carlo run, a comparison or a backtest: PNG (matplotlib) and,
but for the plan's, one self-contained HTML page each (plotly, its script inlined: nothing
loads from the network). The plan's page is the dashboard's overview, written by
web/report.py, which sits above this module and calls plan_charts.

Every chart says the moment it was made as of: a title "as of <day>", and on a time axis a
dashed line at that day (gid AS_OF), left of which is history and right of it the
promise. The day is the plan's `scenario.now`: `as_of`'s date, or `start` for a scenario
without the key. A plan is always made as of some day (summary.json says which), so the
line is drawn then too, at the left end of the time axes: one rule, and a chart never
hides when it was made. The `*_figures` functions give the figures unsaved, to be read."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from promiseline.errors import counted

if TYPE_CHECKING:
    from promiseline.core.futures.backtest import Backtest
    from promiseline.core.futures.history import History
    from promiseline.core.planning.plan import Plan
    from promiseline.core.readout.overview import Overview
    from promiseline.core.studies.whatif import Comparison


AS_OF = "as-of"  # the gid of the as-of line and its label: how a test finds them


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def as_of_text(day: dt.date) -> str:
    """How every chart and page says the moment: 'as of 2025-06-27'."""
    return f"as of {day.isoformat()}"


def _date_x(day: dt.date) -> float:
    """A day where matplotlib puts it on a date axis."""
    from matplotlib.dates import date2num

    return float(date2num(day))  # type: ignore[no-untyped-call]


def _mark_as_of(ax: Any, x: float, day: dt.date) -> None:
    """A dashed line at `x` (the plan's day on this axis), named at its top on the side
    with more room. An `x` outside the data widens the axis: the moment is in sight."""
    ax.axvline(x, color="0.3", linestyle="--", lw=1, zorder=3, gid=AS_OF)
    lo, hi = ax.get_xlim()
    right = (x - lo) > 0.6 * (hi - lo)  # late in the axis: the name goes left of the line
    ax.annotate(
        as_of_text(day),
        xy=(x, 1),
        xycoords=ax.get_xaxis_transform(),
        xytext=(-3 if right else 3, -3),
        textcoords="offset points",
        ha="right" if right else "left",
        va="top",
        fontsize="small",
        color="0.3",
        bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
        gid=AS_OF,
    )


def _bucket_x(starts: list[dt.date], day: dt.date, span: Callable[[dt.date], int]) -> float:
    """Where `day` falls on an axis of buckets drawn one per index (bucket i: `span(starts[i])`
    days from starts[i], centred on i): i - 0.5 plus the share of the bucket gone; between
    buckets, the edge of the next; before the first or after the last, that edge."""
    for i, first in enumerate(starts):
        days = (day - first).days
        if days < 0:
            return i - 0.5
        if days < span(first):
            return i - 0.5 + days / span(first)
    return len(starts) - 0.5


def _week(first: dt.date) -> int:
    return 7


def _month(first: dt.date) -> int:
    return calendar.monthrange(first.year, first.month)[1]


def plan_figures(plan: Plan, ov: Overview) -> dict[str, Any]:
    """The plan's overview `ov` as figures (backlog with a simulation's P10-P90 band when
    `ov` has one, waits, line utilization by week, orders held back by build week), each
    as of the plan's day. Time axes end where the activity ends."""
    day = plan.scenario.now
    return {
        "backlog": _backlog_figure(ov, day),
        "waits": _waits_figure(plan, day),
        "utilization": _utilization_figure(ov, day),
        "binding": _binding_figure(ov, day),
    }


def plan_charts(plan: Plan, ov: Overview, out: Path) -> dict[str, Path]:
    """The plan's figures (plan_figures) as PNGs in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    figures = plan_figures(plan, ov)
    return {name: _save(fig, out / f"{name}.png") for name, fig in figures.items()}


def _backlog_figure(ov: Overview, day: dt.date) -> Any:
    fig, ax = _plt().subplots(figsize=(10, 4))
    b = ov.backlog
    x = b["date"].to_numpy()
    if "backlog_p10" in b.columns:
        ax.fill_between(
            x,
            b["backlog_p10"].to_numpy(),
            b["backlog_p90"].to_numpy(),
            alpha=0.3,
            label="Monte Carlo P10-P90",
        )
        ax.plot(x, b["backlog_p50"].to_numpy(), label="Monte Carlo P50")
    ax.plot(x, b["backlog"].to_numpy(), "k--", lw=1, label="plan")
    _mark_as_of(ax, _date_x(day), day)
    ax.set(title=f"Orders waiting to be built, {as_of_text(day)}", ylabel="orders")
    _thousands(ax)
    fig.autofmt_xdate()
    ax.legend()
    return fig


def _waits_figure(plan: Plan, day: dt.date) -> Any:
    """No time axis: the title says the day."""
    fig, ax = _plt().subplots(figsize=(10, 4))
    groups = (
        plan.planned.group_by("model", "variant").agg(pl.col("wait_days")).sort("model", "variant")
    )
    ax.boxplot([np.asarray(w) for w in groups["wait_days"].to_list()], showfliers=False)
    ax.set_xticks(
        range(1, groups.height + 1),
        [f"{m}\n{v}" for m, v in zip(groups["model"], groups["variant"], strict=True)],
    )
    ax.set(
        title="Wait from lock to delivery: median, quartiles, 1.5 IQR whiskers, " + as_of_text(day),
        ylabel="days",
    )
    return fig


def _utilization_figure(ov: Overview, day: dt.date) -> Any:
    """Weeks as columns of a heat map: the line stands in the as-of day's week."""
    u = ov.utilization
    lines = sorted(set(u["line"].to_list()))
    weeks = sorted(set(u["week"].to_list()))
    grid = np.full((len(lines), len(weeks)), np.nan)
    for r in u.iter_rows(named=True):
        if r["use"] is not None:
            grid[lines.index(r["line"]), weeks.index(r["week"])] = r["use"]
    fig, ax = _plt().subplots(figsize=(10, 1.2 + 0.6 * len(lines)))
    im = ax.imshow(grid, aspect="auto", vmin=0, vmax=1, cmap="Blues", interpolation="none")
    ax.set_yticks(range(len(lines)), lines)
    step = max(1, len(weeks) // 12)
    ax.set_xticks(
        range(0, len(weeks), step), [str(w)[:10] for w in weeks[::step]], rotation=45, ha="right"
    )
    _mark_as_of(ax, _bucket_x(weeks, day, _week), day)
    fig.colorbar(im, ax=ax, label="built / capacity")
    ax.set(title=f"Line utilization by week (weeks with building), {as_of_text(day)}")
    return fig


def _binding_figure(ov: Overview, day: dt.date) -> Any:
    fig, ax = _plt().subplots(figsize=(10, 4))
    held = ov.held()
    for kind in sorted(held["kind"].unique().to_list()):
        k = held.filter(pl.col("kind") == kind)
        ax.plot(k["week"].to_numpy(), k["orders"].to_numpy(), label=kind)
    _mark_as_of(ax, _date_x(day), day)
    ax.set(title=f"Orders held back, by kind of constraint and build week, {as_of_text(day)}")
    ax.set(ylabel="orders")
    _thousands(ax)
    if held.height:  # beside the chart, not over its data
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return fig


def export_figure(plan: Plan) -> Any:
    """Export by sea on one page: deliveries per market and month, how full each lane's
    sailings go, and the cars waiting at each departure port; as of the plan's day (a
    line on each time axis, the day in the page's title)."""
    from promiseline.core.readout.export_outlook import deliveries_by_month

    day = plan.scenario.now
    fig, (ax1, ax2, ax3) = _plt().subplots(3, 1, figsize=(10, 11))
    fig.suptitle(f"Export by sea, {as_of_text(day)}")
    months = deliveries_by_month(plan)
    grid = every_month(months.pivot(on="market", index="month", values="cars"))
    bottom = np.zeros(grid.height)
    for market in [m.name for m in plan.scenario.markets if m.name in grid.columns]:
        cars = grid[market].to_numpy()
        ax1.bar(grid["month"].to_list(), cars, bottom=bottom, label=market)
        bottom += cars
    step = max(1, grid.height // 18)
    ax1.set_xticks(range(0, grid.height, step), grid["month"].to_list()[::step], rotation=45)
    starts = [dt.date.fromisoformat(f"{m}-01") for m in grid["month"].to_list()]
    _mark_as_of(ax1, _bucket_x(starts, day, _month), day)
    ax1.set(title="Deliveries per market and month", ylabel="cars")
    _thousands(ax1)
    _legend(ax1, ncol=4)

    sail = plan.sailings().filter(pl.col("capacity") > 0)
    last = sail.filter(pl.col("loaded") > 0)["departure_date"].max()
    for lane in plan.capacity.sea.lane_names:
        s = sail.filter((pl.col("lane") == lane) & (pl.col("departure_date") <= (last or 0)))
        use = (s["loaded"] / s["capacity"]).to_numpy()
        ax2.plot(s["departure_date"].to_numpy(), use, marker=".", label=lane)
    _mark_as_of(ax2, _date_x(day), day)
    ax2.set(title="Sailings: share of this maker's seats loaded", ylabel="loaded / capacity")
    ax2.set_ylim(0, 1.05)
    _legend(ax2)

    yard = plan.yard()
    busy = yard.filter(pl.col("cars") > 0)
    if busy.height:  # through the day the yard empties
        first, end = busy["date"].min(), busy["date"].max()
        assert isinstance(end, dt.date)
        yard = yard.filter(pl.col("date").is_between(first, end + dt.timedelta(days=1)))
    for port in sorted(set(yard["port"].to_list())):
        y = yard.filter(pl.col("port") == port)
        ax3.plot(y["date"].to_numpy(), y["cars"].to_numpy(), label=port)
    _mark_as_of(ax3, _date_x(day), day)
    ax3.set(title="Cars waiting at each departure port", ylabel="cars")
    _thousands(ax3)
    _legend(ax3)
    return fig


def every_month(grid: pl.DataFrame) -> pl.DataFrame:
    """Rows per `month` (YYYY-MM) from the first to the last, sorted, a month without
    any as zeros: a categorical axis then shows a gap (the demo's export deliveries
    stop in October 2026 and start again in February 2027)."""
    if not grid.height:
        return grid
    grid = grid.sort("month")
    first, last = (dt.date.fromisoformat(f"{grid['month'][i]}-01") for i in (0, -1))
    every = pl.date_range(first, last, "1mo", eager=True).dt.strftime("%Y-%m").alias("month")
    return every.to_frame().join(grid, on="month", how="left").fill_null(0)


def export_chart(plan: Plan, path: Path) -> Path:
    """export_figure as a PNG."""
    return _save(export_figure(plan), path)


LEGEND_MAX = 12  # more entries than this would cover the chart


def _legend(ax: Any, ncol: int = 1) -> None:
    """A legend when there is something to name and not too much of it."""
    n = len(ax.get_legend_handles_labels()[1])
    if 0 < n <= LEGEND_MAX:
        ax.legend(ncol=ncol, fontsize="small")
    elif n:
        ax.text(0.01, 0.97, f"{n} series", transform=ax.transAxes, va="top", fontsize="small")


def _busy_until(*series: np.ndarray) -> int:
    """Index just past the last day any series is non-zero, plus a month of margin."""
    last = max((int(np.flatnonzero(s)[-1]) if np.any(s) else 0) for s in series)
    return last + 31


def _thousands(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


def _html(figs: list[Any], path: Path, title: str, head: str = "") -> Path:
    parts = [
        f"<html><head><meta charset='utf-8'><title>{title}</title></head><body><h1>{title}</h1>"
        + head
    ]
    for i, f in enumerate(figs):
        parts.append(f.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False))
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def compare_figure(comparison: Comparison) -> Any:
    """P90 wait per variant and the backlog over time, one series per scenario, as of the
    base plan's day (the first scenario's: a what-if that moves `as_of` is drawn as of it)."""
    day = comparison.plans[0].scenario.now
    waits = comparison.waits()
    labels = [f"{m} {v}" for m, v in zip(waits["model"], waits["variant"], strict=True)]
    fig, (ax1, ax2) = _plt().subplots(2, 1, figsize=(10, 8))
    fig.suptitle(f"What-ifs compared, {as_of_text(day)}")
    width = 0.8 / len(comparison.names)
    x = np.arange(len(labels))
    for i, name in enumerate(comparison.names):
        ax1.bar(x + i * width, _p90(waits, name), width, label=name)
        b = _compared_backlog(comparison, i)
        # the base wide and pale, what-ifs dashed on it: one equal to the base hides nothing
        style = {"linewidth": 4, "alpha": 0.45} if i == 0 else {"linestyle": DASHES[i % 4]}
        ax2.plot(b["date"].to_numpy(), b["backlog"].to_numpy(), label=name, **style)
    ax1.set_xticks(x + width * (len(comparison.names) - 1) / 2, labels, rotation=30, ha="right")
    ax1.set(title="P90 wait from lock to delivery", ylabel="days")
    ax1.legend()
    _mark_as_of(ax2, _date_x(day), day)
    ax2.set(title="Orders waiting to be built", ylabel="orders")
    _thousands(ax1)
    _thousands(ax2)
    ax2.legend()
    return fig


DASHES = ("-", "--", "-.", ":")


def _p90(waits: pl.DataFrame, name: str) -> np.ndarray:
    return waits[f"{name} P90"].fill_null(0).to_numpy()


def _compared_backlog(comparison: Comparison, i: int) -> pl.DataFrame:
    """Scenario i's backlog by day, through a month after the last of them empties."""
    busy = _busy_until(*(p.backlog()["backlog"].to_numpy() for p in comparison.plans))
    return comparison.plans[i].backlog().head(busy)


def _plotly_as_of(fig: Any, day: dt.date) -> Any:
    """The as-of line on a plotly date axis, as a shape and a note (add_vline's note
    cannot stand on a date axis)."""
    x = day.isoformat()
    fig.add_shape(
        type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="paper", line={"dash": "dash"}
    )
    fig.add_annotation(
        x=x, y=1, xref="x", yref="paper", text=as_of_text(day), showarrow=False, xanchor="left"
    )
    return fig


def compare_charts(comparison: Comparison, out: Path) -> dict[str, Path]:
    """compare_figure as a PNG, and the same as a page (plotly)."""
    import plotly.graph_objects as go

    out.mkdir(parents=True, exist_ok=True)
    day = comparison.plans[0].scenario.now
    waits = comparison.waits()
    labels = [f"{m} {v}" for m, v in zip(waits["model"], waits["variant"], strict=True)]
    bar_fig, line_fig = go.Figure(), go.Figure()
    for i, name in enumerate(comparison.names):
        bar_fig.add_bar(x=labels, y=_p90(waits, name).tolist(), name=name)
        b = _compared_backlog(comparison, i)
        line = {"width": 6, "color": "rgba(31,111,235,0.4)"} if i == 0 else {"dash": "dash"}
        line_fig.add_scatter(x=b["date"].to_list(), y=b["backlog"].to_list(), name=name, line=line)
    png = _save(compare_figure(comparison), out / "compare.png")
    bar_fig.update_layout(title=f"P90 wait (days), {as_of_text(day)}", barmode="group")
    line_fig.update_layout(title=f"Orders waiting to be built, {as_of_text(day)}")
    line_fig.update_yaxes(tickformat=",")
    _plotly_as_of(line_fig, day)
    title = f"promiseline: what-if comparison, {as_of_text(day)}"
    html = _html([bar_fig, line_fig], out / "compare.html", title)
    return {"compare": png, "html": html}


def _pit(j: dict[str, Any]) -> tuple[list[str], list[float], list[float], str]:
    """(bins, shares, shares when calibrated, title) of a backtest's PIT: 10 bins of the
    randomized PIT of a replay, or 4 bins of the windows a database told."""
    if j["pit_histogram"] is not None:
        bins = [f"{i / 10:.1f}-{(i + 1) / 10:.1f}" for i in range(10)]
        title = f"Randomized PIT of first promises ({j['orders_scored']:,} orders)"
        return bins, j["pit_histogram"], [0.1] * 10, title
    mc = j["monte_carlo_first_promises"]
    title = f"Deliveries against first Monte Carlo windows ({mc['orders']:,} orders)"
    return (
        list(mc["pit_bins"]),
        list(mc["pit_bins"].values()),
        list(mc["pit_bins_calibrated"].values()),
        title,
    )


def _backtest_head(j: dict[str, Any], day: dt.date) -> str:
    if j.get("source") == "database":
        newest = (
            "its last delivery" if j.get("as_of") == j.get("last_delivery") else "its newest event"
        )
        made = (
            f"{j['orders_scored']:,} orders scored from {escape(j['database'])}, "
            f"{as_of_text(day)} ({newest}): {j['orders_scored'] - j['orders_censored']:,} "
            f"delivered, {j['orders_censored']:,} undelivered past their window counted late; "
            f"{j['orders_open']:,} still open, not scored yet"
        )
    else:
        realities = counted(len(j["seeds"]), "reality", "realities")
        made = (
            f"{j['orders_scored']:,} orders scored over {realities}; "
            f"{j['replays']} replays every {j['every_days']} days from the plan "
            f"{as_of_text(day)}; {j['futures']} futures each"
        )
    latest = j["coverage_latest"]
    crps = f"CRPS {j['crps_days']} days; " if j["crps_days"] is not None else ""
    return (
        f"<p><b>{escape(j['verdict'])}</b></p><p>{made}. Latest promise: "
        f"{latest:.0%} inside; {crps}churn {j['churn_per_order']} messages per order.</p>"
        if latest is not None
        else f"<p><b>{escape(j['verdict'])}</b></p><p>{made}.</p>"
    )


def backtest_day(bt: Backtest | History, as_of: dt.date | None) -> dt.date:
    """What a backtest's charts are as of: the day its replays start from (`as_of`, the
    planner scenario's `now`; a Backtest does not keep it), or for a deployment's history
    the day it is judged as of (the database's now: its newest event)."""
    if as_of is not None:
        return as_of
    from promiseline.core.futures.history import History

    if not isinstance(bt, History) or bt.now is None:
        raise ValueError("a replay backtest's charts need the day it was made as of")
    return dt.date(1970, 1, 1) + dt.timedelta(days=bt.now)


def backtest_figures(bt: Backtest | History, day: dt.date) -> dict[str, Any]:
    """The PIT histogram, coverage and error by weeks ahead, and churn, of a replay
    backtest or of a deployment's history. None has a time axis: each title says the day."""
    return _backtest_figures(bt.to_json(), bt.churn_counts(), day)


def _backtest_figures(j: dict[str, Any], churn: list[int], day: dt.date) -> dict[str, Any]:
    plt = _plt()
    bins, pit, flat, pit_title = _pit(j)
    rows = [r for r in j["by_weeks_ahead"] if r["promises"]]
    said = as_of_text(day)

    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(bins))
    ax.bar(x, pit, width=0.9)
    ax.scatter(x, flat, color="black", marker="_", s=900, label="when calibrated", zorder=3)
    ax.set(title=f"{pit_title}, {said}", ylabel="share of orders")
    ax.set_xticks(x, bins, rotation=30 if len(bins) > 4 else 0)
    ax.legend()
    figures = {"pit": fig}

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    fig.suptitle(f"Promises by weeks ahead of delivery, {said}")
    x = np.arange(len(rows))
    ax1.bar(x, [r.get("coverage", r["coverage_p10_p90"]) for r in rows], label="inside")
    stated = [r.get("stated") for r in rows]
    if any(v is not None for v in stated):  # the odds the windows stated, per bucket
        ax1.scatter(
            x,
            [np.nan if v is None else v for v in stated],
            color="black",
            marker="_",
            s=900,
            label="stated odds",
            zorder=3,
        )
    else:
        ax1.axhline(0.8, color="black", linestyle="--", label="nominal 80 %")
    ax1.set(title="Deliveries inside the window told, by weeks ahead", ylabel="share")
    ax1.legend()
    ax2.bar(x, [r["mean_abs_error_days"] for r in rows], label="likely date")
    ax2.set(title="Mean absolute error of the likely date", ylabel="days", xlabel="weeks ahead")
    ax2.set_xticks(x, [r["weeks"] for r in rows])
    figures["weeks_ahead"] = fig

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(np.arange(len(churn)), churn)
    ax.set(
        title=f"eta_changed messages per order (mean {j['churn_per_order']}), {said}",
        xlabel="messages",
        ylabel="orders",
    )
    figures["churn"] = fig
    return figures


def backtest_charts(
    bt: Backtest | History, out: Path, as_of: dt.date | None = None
) -> dict[str, Path]:
    """backtest_figures as PNGs, and the same as one page (plotly); `as_of`: see
    backtest_day (required for a replay)."""
    import plotly.graph_objects as go

    out.mkdir(parents=True, exist_ok=True)
    day = backtest_day(bt, as_of)
    j = bt.to_json()
    bins, pit, flat, pit_title = _pit(j)
    rows = [r for r in j["by_weeks_ahead"] if r["promises"]]
    weeks = [r["weeks"] for r in rows]
    churn = bt.churn_counts()
    figures = _backtest_figures(j, churn, day)
    paths = {name: _save(fig, out / f"{name}.png") for name, fig in figures.items()}
    said = as_of_text(day)
    figs = [
        go.Figure(
            [
                go.Bar(x=bins, y=pit, name="deliveries"),
                go.Scatter(x=bins, y=flat, mode="markers", name="when calibrated"),
            ]
        ).update_layout(title=f"{pit_title}, {said}"),
        go.Figure(
            [
                go.Bar(
                    x=weeks,
                    y=[r.get("coverage", r["coverage_p10_p90"]) for r in rows],
                    name="inside the window",
                ),
                go.Bar(x=weeks, y=[r.get("stated") for r in rows], name="stated odds"),
                go.Bar(x=weeks, y=[r["on_time"] for r in rows], name="on or before likely"),
            ]
        ).update_layout(title=f"By weeks ahead of delivery, {said}", barmode="group"),
        go.Figure(go.Bar(x=list(range(len(churn))), y=churn)).update_layout(
            title=f"eta_changed messages per order, {said}"
        ),
    ]
    told = [r for r in j.get("by_told_weeks", []) if r["promises"]]
    if j.get("recalibration", {}).get("on") and told:  # the model's own beside what was told
        at = [r["weeks"] for r in told]
        figs.append(
            go.Figure(
                [
                    go.Bar(x=at, y=[r["coverage"] for r in told], name="inside (told)"),
                    go.Bar(x=at, y=[r["stated"] for r in told], name="stated odds"),
                    go.Bar(x=at, y=[r["coverage_model"] for r in told], name="model's own inside"),
                ]
            ).update_layout(
                title=f"Recalibration at work, by the weeks told in, {said}",
                barmode="group",
                xaxis_title="weeks from the first replay",
            )
        )
    head = _backtest_head(j, day)
    paths["html"] = _html(figs, out / "backtest.html", f"promiseline: backtest, {said}", head)
    return paths
