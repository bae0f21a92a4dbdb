"""Charts of a plan, a Monte Carlo run, a comparison or a backtest: PNG (matplotlib) and,
but for the plan's, one self-contained HTML page each (plotly, its script inlined: nothing
loads from the network). The plan's page is the dashboard's overview, written by
web/report.py, which sits above this module and calls plan_charts."""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from promiseline.core.futures.backtest import Backtest
    from promiseline.core.futures.history import History
    from promiseline.core.planning.plan import Plan
    from promiseline.core.readout.overview import Overview
    from promiseline.core.studies.whatif import Comparison


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plan_charts(plan: Plan, ov: Overview, out: Path) -> dict[str, Path]:
    """The plan's overview `ov` as PNGs (backlog with a simulation's P10-P90 band when `ov`
    has one, waits, line utilization by week, orders held back by build week). Time axes
    end where the activity ends."""
    plt = _plt()
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    fig, ax = plt.subplots(figsize=(10, 4))
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
    ax.set(title="Orders waiting to be built", ylabel="orders")
    _thousands(ax)
    fig.autofmt_xdate()
    ax.legend()
    paths["backlog"] = _save(fig, out / "backlog.png")

    fig, ax = plt.subplots(figsize=(10, 4))
    groups = (
        plan.planned.group_by("model", "variant").agg(pl.col("wait_days")).sort("model", "variant")
    )
    ax.boxplot([np.asarray(w) for w in groups["wait_days"].to_list()], showfliers=False)
    ax.set_xticks(
        range(1, groups.height + 1),
        [f"{m}\n{v}" for m, v in zip(groups["model"], groups["variant"], strict=True)],
    )
    ax.set(title="Wait from lock to delivery: median, quartiles, 1.5 IQR whiskers", ylabel="days")
    paths["waits"] = _save(fig, out / "waits.png")

    u = ov.utilization
    lines = sorted(set(u["line"].to_list()))
    weeks = sorted(set(u["week"].to_list()))
    grid = np.full((len(lines), len(weeks)), np.nan)
    for r in u.iter_rows(named=True):
        if r["use"] is not None:
            grid[lines.index(r["line"]), weeks.index(r["week"])] = r["use"]
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.6 * len(lines)))
    im = ax.imshow(grid, aspect="auto", vmin=0, vmax=1, cmap="Blues", interpolation="none")
    ax.set_yticks(range(len(lines)), lines)
    step = max(1, len(weeks) // 12)
    ax.set_xticks(
        range(0, len(weeks), step), [str(w)[:10] for w in weeks[::step]], rotation=45, ha="right"
    )
    fig.colorbar(im, ax=ax, label="built / capacity")
    ax.set(title="Line utilization by week (weeks with building)")
    paths["utilization"] = _save(fig, out / "utilization.png")

    fig, ax = plt.subplots(figsize=(10, 4))
    bind = ov.binding.with_columns(kind=pl.col("constraint").str.split(":").list.first())
    bind = bind.group_by("week", "kind").agg(pl.col("orders").sum()).sort("week")
    for kind in sorted(bind["kind"].unique().to_list()):
        k = bind.filter(pl.col("kind") == kind)
        ax.plot(k["week"].to_numpy(), k["orders"].to_numpy(), label=kind)
    ax.set(title="Orders held back, by constraint and build week", ylabel="orders")
    _thousands(ax)
    if bind.height:
        ax.legend()
    paths["binding"] = _save(fig, out / "binding.png")
    return paths


def export_chart(plan: Plan, path: Path) -> Path:
    """Export by sea on one page: deliveries per market and month, how full each lane's
    sailings go, and the cars waiting at each departure port."""
    from promiseline.core.readout.export_outlook import deliveries_by_month

    plt = _plt()
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(10, 11))
    months = deliveries_by_month(plan)
    grid = months.pivot(on="market", index="month", values="cars").sort("month").fill_null(0)
    bottom = np.zeros(grid.height)
    for market in [m.name for m in plan.scenario.markets if m.name in grid.columns]:
        cars = grid[market].to_numpy()
        ax1.bar(grid["month"].to_list(), cars, bottom=bottom, label=market)
        bottom += cars
    step = max(1, grid.height // 18)
    ax1.set_xticks(range(0, grid.height, step), grid["month"].to_list()[::step], rotation=45)
    ax1.set(title="Deliveries per market and month", ylabel="cars")
    _thousands(ax1)
    _legend(ax1, ncol=4)

    sail = plan.sailings().filter(pl.col("capacity") > 0)
    last = sail.filter(pl.col("loaded") > 0)["departure_date"].max()
    for lane in plan.capacity.sea.lane_names:
        s = sail.filter((pl.col("lane") == lane) & (pl.col("departure_date") <= (last or 0)))
        use = (s["loaded"] / s["capacity"]).to_numpy()
        ax2.plot(s["departure_date"].to_numpy(), use, marker=".", label=lane)
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
    ax3.set(title="Cars waiting at each departure port", ylabel="cars")
    _thousands(ax3)
    _legend(ax3)
    return _save(fig, path)


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


def compare_charts(comparison: Comparison, out: Path) -> dict[str, Path]:
    """P90 wait per variant and the backlog over time, one series per scenario."""
    import plotly.graph_objects as go

    plt = _plt()
    out.mkdir(parents=True, exist_ok=True)
    waits = comparison.waits()
    labels = [f"{m} {v}" for m, v in zip(waits["model"], waits["variant"], strict=True)]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 8))
    width = 0.8 / len(comparison.names)
    x = np.arange(len(labels))
    bar_fig, line_fig = go.Figure(), go.Figure()
    for i, name in enumerate(comparison.names):
        p90 = waits[f"{name} P90"].fill_null(0).to_numpy()
        ax1.bar(x + i * width, p90, width, label=name)
        bar_fig.add_bar(x=labels, y=p90.tolist(), name=name)
        b = comparison.plans[i].backlog()
        b = b.head(_busy_until(*(p.backlog()["backlog"].to_numpy() for p in comparison.plans)))
        ax2.plot(b["date"].to_numpy(), b["backlog"].to_numpy(), label=name)
        line_fig.add_scatter(x=b["date"].to_list(), y=b["backlog"].to_list(), name=name)
    ax1.set_xticks(x + width * (len(comparison.names) - 1) / 2, labels, rotation=30, ha="right")
    ax1.set(title="P90 wait from lock to delivery", ylabel="days")
    ax1.legend()
    ax2.set(title="Orders waiting to be built", ylabel="orders")
    ax2.legend()
    png = _save(fig, out / "compare.png")
    bar_fig.update_layout(title="P90 wait (days)", barmode="group")
    line_fig.update_layout(title="Orders waiting to be built")
    html = _html([bar_fig, line_fig], out / "compare.html", "promiseline: what-if comparison")
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


def _backtest_head(j: dict[str, Any]) -> str:
    if j.get("source") == "database":
        made = f"{j['orders_scored']:,} delivered orders scored from {escape(j['database'])}"
    else:
        made = (
            f"{j['orders_scored']:,} orders scored over {len(j['seeds'])} reality(ies); "
            f"{j['replays']} replays every {j['every_days']} days; {j['futures']} futures each"
        )
    latest = j["coverage_latest"]
    crps = f"CRPS {j['crps_days']} days; " if j["crps_days"] is not None else ""
    return (
        f"<p><b>{escape(j['verdict'])}</b></p><p>{made}. Latest promise: "
        f"{latest:.0%} inside; {crps}churn {j['churn_per_order']} messages per order.</p>"
        if latest is not None
        else f"<p><b>{escape(j['verdict'])}</b></p><p>{made}.</p>"
    )


def backtest_charts(bt: Backtest | History, out: Path) -> dict[str, Path]:
    """The PIT histogram, coverage and error by weeks ahead, and churn: PNGs and one page,
    of a replay backtest or of a deployment's history."""
    import plotly.graph_objects as go

    plt = _plt()
    out.mkdir(parents=True, exist_ok=True)
    j = bt.to_json()
    bins, pit, flat, pit_title = _pit(j)
    rows = [r for r in j["by_weeks_ahead"] if r["promises"]]
    weeks = [r["weeks"] for r in rows]
    churn = bt.churn_counts()

    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(bins))
    ax.bar(x, pit, width=0.9)
    ax.scatter(x, flat, color="black", marker="_", s=900, label="when calibrated", zorder=3)
    ax.set(title=pit_title, ylabel="share of orders")
    ax.set_xticks(x, bins, rotation=30 if len(bins) > 4 else 0)
    ax.legend()
    paths = {"pit": _save(fig, out / "pit.png")}

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    x = np.arange(len(rows))
    ax1.bar(x, [r["coverage_p10_p90"] for r in rows])
    ax1.axhline(0.8, color="black", linestyle="--", label="nominal 80 %")
    ax1.set(title="Deliveries inside the P10-P90 window, by weeks ahead", ylabel="share")
    ax1.legend()
    ax2.bar(x, [r["mean_abs_error_days"] for r in rows], label="likely date")
    ax2.set(title="Mean absolute error of the likely date", ylabel="days", xlabel="weeks ahead")
    ax2.set_xticks(x, weeks)
    paths["weeks_ahead"] = _save(fig, out / "weeks_ahead.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(np.arange(len(churn)), churn)
    ax.set(
        title=f"eta_changed messages per order (mean {j['churn_per_order']})",
        xlabel="messages",
        ylabel="orders",
    )
    paths["churn"] = _save(fig, out / "churn.png")

    figs = [
        go.Figure(
            [
                go.Bar(x=bins, y=pit, name="deliveries"),
                go.Scatter(x=bins, y=flat, mode="markers", name="when calibrated"),
            ]
        ).update_layout(title=pit_title),
        go.Figure(
            [
                go.Bar(x=weeks, y=[r["coverage_p10_p90"] for r in rows], name="inside P10-P90"),
                go.Bar(x=weeks, y=[r["on_time"] for r in rows], name="on or before likely"),
            ]
        ).update_layout(title="By weeks ahead of delivery", barmode="group"),
        go.Figure(go.Bar(x=list(range(len(churn))), y=churn)).update_layout(
            title="eta_changed messages per order"
        ),
    ]
    head = _backtest_head(j)
    paths["html"] = _html(figs, out / "backtest.html", "promiseline: backtest", head)
    return paths
