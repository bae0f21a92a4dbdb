"""What more than one command prints: a plan's summary, its export part and outlook, a
Monte Carlo run, a backtest's scores, a fit. Every figure comes from the API's answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from promiseline.cli.shared import out, table
from promiseline.errors import counted

if TYPE_CHECKING:
    import polars as pl

    from promiseline.core.futures.fit import Estimate, Fit, Spells
    from promiseline.core.futures.simulate import Simulation


def print_summary(sm: dict[str, Any]) -> None:
    """Waits, delivery dates, binding constraints and line utilization (`api.summary`)."""
    o = sm["orders"]
    when = f" as of {sm['as_of']}" if sm["as_of"] != sm["start"] else ""
    done = "".join(f"{n:,} {status}, " for status, n in o["history"].items())
    out.print(
        f"[bold]{sm['scenario']}[/]{when}: {done}{o['planned']:,} orders planned, "
        f"{o['unplanned']:,} "
        f"unplanned, {o['reserved_quoted']:,} reserved (quoted only), "
        f"{counted(o['rejected'], 'row')} rejected; "
        + (
            f"deliveries from {sm['first_delivery']} to {sm['last_delivery']}"
            if sm["first_delivery"]
            else "no deliveries planned"
        )
    )
    if not o["planned"] and not o["unplanned"]:  # every row rejected, or an empty book
        return
    waits = Table(title="Waits from lock to delivery (days)", title_justify="left")
    for col in ("model", "variant", "orders", "median", "P90", "max"):
        waits.add_column(col, justify="right" if col not in ("model", "variant") else "left")
    for r in sm["waits_by_model"]:
        waits.add_row(r["model"], "[dim]all[/]", *_wait_cells(r), style="bold")
        for v in sm["waits_by_variant"]:
            if v["model"] == r["model"]:
                waits.add_row("", v["variant"], *_wait_cells(v))
    out.print(waits)
    held = [(name, f"{n:,}") for name, n in sm["bound_by"].items()] or [
        ("[dim]nothing: every order built on its first possible day[/]", "0")
    ]
    out.print(table("What held orders back", ("binding constraint", "orders delayed"), held))
    out.print(
        table(
            f"Line utilization from {sm['utilization_from']} through {sm['utilization_through']}"
            " (start to last build day)",
            ("plant", "line", "built", "capacity", "utilization"),
            (
                (
                    r["plant"],
                    r["line"],
                    f"{r['built']:,}",
                    f"{r['capacity']:,}",
                    f"{r['utilization']:.1%}",
                )
                for r in sm["lines"]
            ),
            left=2,
        )
    )


def _wait_cells(r: dict[str, Any]) -> list[str]:
    return [
        f"{r['orders']:,}",
        f"{r['median_wait_days']:.0f}",
        f"{r['p90_wait_days']:.0f}",
        f"{r['max_wait_days']:,}",
    ]


def print_export(ex: dict[str, Any], outlook: pl.DataFrame) -> None:
    """Sailings per lane, the port yards (the summary's export part), and what export and
    the built-in what-ifs do to waits at home and abroad (`api.export_outlook`)."""
    out.print(
        table(
            "Export by sea: sailings per lane (through the last one that carries cars)",
            ("lane", "sailings", "first", "last", "loaded", "seats", "full", "used"),
            (
                (
                    r["lane"],
                    str(r["sailings"]),
                    r["first"],
                    r["last"],
                    f"{r['loaded']:,}",
                    f"{r['capacity']:,}",
                    str(r["full"]),
                    f"{r['utilization']:.0%}",
                )
                for r in ex["lanes"]
            ),
            left=4,
        )
    )
    yards = ", ".join(
        f"{r['port']} {r['peak_cars']:,} cars on {r['peak_date']}" for r in ex["yard_peaks"]
    )
    out.print(f"Most cars waiting at a port: {yards}; without a sailing: {ex['no_sailing']:,}")
    print_outlook(outlook)


def print_outlook(outlook: pl.DataFrame) -> None:
    """Per scenario (or what-if): waits at home, of the home orders locked since the first
    export order, and abroad; the last export delivery; the port yard's peak."""

    def days(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    first = outlook["since"][0] if outlook.height else None
    out.print(
        table(
            f"Waits at home and abroad, days (home since: orders locked from {first} on)",
            (
                "what-if",
                "home P50",
                "home P90",
                "since P50",
                "since P90",
                "export",
                "exp P50",
                "exp P90",
                "last export",
                "port peak",
                "port days",
            ),
            (
                (
                    r["scenario"],
                    days(r["home_median_wait"]),
                    days(r["home_p90_wait"]),
                    days(r["home_since_median_wait"]),
                    days(r["home_since_p90_wait"]),
                    f"{r['export_orders']:,}",
                    days(r["export_median_wait"]),
                    days(r["export_p90_wait"]),
                    str(r["last_export_delivery"] or "-"),
                    f"{r['yard_peak']:,}",
                    days(r["port_median_days"]),
                )
                for r in outlook.iter_rows(named=True)
            ),
            left=1,
        )
    )
    rows = {r["scenario"]: r for r in outlook.iter_rows(named=True)}
    if "plan" in rows and "no export" in rows and rows["plan"]["first_sailing"]:
        w, wo = rows["plan"], rows["no export"]
        out.print(
            f"Home orders built before the first sailing ({w['first_sailing']}): P50 / P90 "
            f"wait {days(w['home_before_sailing_median_wait'])} / "
            f"{days(w['home_before_sailing_p90_wait'])} days with export, "
            f"{days(wo['home_before_sailing_median_wait'])} / "
            f"{days(wo['home_before_sailing_p90_wait'])} without; port days: median days "
            "an export car waits at the port, build to departure"
        )


def print_simulation(sim: Simulation) -> None:
    """Waits per variant over the futures, and how often each constraint binds."""
    sm = sim.summary()
    out.print(
        table(
            f"Monte Carlo: {counted(sm['futures'], 'future')} (seed {sm['seed']}), "
            f"{sm['new_orders_mean']:,.0f} new orders a future on average",
            ("model", "variant", "orders", "median P50 wait", "median P90 wait", "cancel"),
            (
                (
                    r["model"],
                    r["variant"],
                    f"{r['orders']:,}",
                    f"{r['median_of_p50_wait']:.0f} d",
                    f"{r['median_of_p90_wait']:.0f} d",
                    f"{r['cancel_share']:.1%}",
                )
                for r in sm["by_variant"]
            ),
            left=2,
        )
    )
    out.print(
        table(
            "How often each constraint holds orders back",
            ("constraint", "futures where it binds", "orders held, mean"),
            (
                (r["constraint"], f"{r['binds_share']:.0%}", f"{r['orders_mean']:,.0f}")
                for r in sm["constraints"][:8]
            ),
        )
    )


def calibration_line(j: dict[str, Any]) -> str:
    """The one line of a backtest a planner reads first."""
    if j["orders_scored"] == 0:
        return f"calibration: {j['verdict']}"
    head = (
        f"calibration: {j['verdict']}; on time vs likely date {j['on_time_first_promise']:.0%} "
        f"(first promise), {j['on_time_latest_promise']:.0%} (latest); "
        f"{j['churn_per_order']} eta messages per order; {j['orders_scored']:,} orders"
    )
    if j.get("source") == "database":
        mc = j["monte_carlo_first_promises"]["orders"]
        return (
            f"{head} scored ({j['orders_censored']:,} of them undelivered past their window, "
            f"counted late; {mc:,} first told a window stating odds), as of {j['as_of']} "
            f"from {j['database']}; {j['orders_open']:,} still open"
        )
    n = len(j["seeds"])
    return f"{head}, {n} {'reality' if n == 1 else 'realities'}, {j['replays']} replays" + (
        " (all orders of one reality share its luck: judge over several)"
        if len(j["seeds"]) == 1
        else ""
    )


def print_backtest(j: dict[str, Any]) -> None:
    """The calibration line and the scores by weeks ahead of delivery: how often windows
    held against the odds they stated, and what they cost in width beside the naive
    baseline (the plan's date widened by its own errors)."""
    out.print(calibration_line(j))
    score = "WIS" if j.get("source") == "database" else "CRPS"

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.0%}"

    def held(r: dict[str, Any]) -> str:  # ± the standard error across realities
        se = r.get("coverage_se")
        return pct(r.get("coverage", r["coverage_p10_p90"])) + (
            "" if se is None else f" ± {se:.0%}"
        )

    def days(x: float | None, digits: int = 1) -> str:
        return "-" if x is None else f"{x:.{digits}f} d"

    out.print(
        table(
            "Promises told, by weeks ahead of delivery",
            (
                "weeks ahead",
                "promises",
                "inside",
                "stated",
                "width",
                "interval score",
                "baseline width",
                "baseline score",
                "MAE",
                score,
            ),
            (
                (
                    r["weeks"],
                    f"{r['promises']:,}",
                    held(r),
                    pct(r.get("stated")),
                    days(r.get("mean_width_days")),
                    days(r.get("interval_score")),
                    days(r.get("baseline_width_days")),
                    days(r.get("baseline_interval_score")),
                    days(r["mean_abs_error_days"]),
                    days(r[f"{score.lower()}_days"], 2),
                )
                for r in j["by_weeks_ahead"]
                if r["promises"]
            ),
            left=1,
        )
    )
    told = [r for r in j.get("by_told_weeks", []) if r["promises"]]
    if j.get("recalibration", {}).get("on") and told:
        out.print(
            table(
                "Recalibration at work: promises by the weeks they were told in",
                ("weeks told", "promises", "inside", "stated", "model's own inside", "stated"),
                (
                    (
                        r["weeks"],
                        f"{r['promises']:,}",
                        held(r),
                        pct(r.get("stated")),
                        pct(r.get("coverage_model")),
                        pct(r.get("stated_model")),
                    )
                    for r in told
                ),
                left=1,
            )
        )
    each = j.get("per_reality", [])
    if len(each) > 1:
        out.print(
            table(
                "Each reality: all its orders share its luck",
                ("seed", "what it drew (the year from its day)", "orders", "inside", "stated"),
                (
                    (
                        str(r["seed"]),
                        luck_text(r.get("luck", {})),
                        f"{r['orders_scored']:,}",
                        pct(r["coverage_p10_p90"]),
                        pct(r.get("stated_p10_p90")),
                    )
                    for r in each
                ),
                left=2,
            )
        )


def luck_text(luck: dict[str, dict[str, float]]) -> str:
    """One reality's draws in a line: uptime per line, ramp-ups late, parts' supply that
    came."""
    parts = []
    if up := luck.get("uptime"):
        parts.append("uptime " + ", ".join(f"{k} {v:.1%}" for k, v in up.items()))
    if slip := luck.get("ramp_slip_days"):
        parts.append("; ".join(f"{k} ramp-up {v:.0f} d late" for k, v in slip.items()))
    if supply := luck.get("supply_share"):
        parts.append("supply " + ", ".join(f"{k} {v:.1%}" for k, v in supply.items()))
    return "; ".join(parts) or "-"


def print_fit(result: Fit) -> None:
    """What `fit` learned: uptime and slowdowns per line, outages per part, each
    estimate ± its standard error; then what could not be fitted and why."""
    out.print(
        table(
            f"Uptime fitted from {result.source} (estimate ± standard error)",
            ("line", "days", "mean", "sd", "level share", "memory (days)"),
            (
                (
                    f.line,
                    f"{f.days_used:,}",
                    f.mean.text(3),
                    f.sd.text(3),
                    f.level_share.text(2),
                    f.memory_days.text(1),
                )
                for f in result.lines
            ),
        )
    )
    spells = [(f.line, f.slowdowns) for f in result.lines]
    spells += [(p.part, p.outages) for p in result.parts]
    if spells:
        out.print(
            table(
                "Slowdowns per line, outages per part",
                (
                    "line or part",
                    "spells",
                    "per year",
                    "depth mean",
                    "depth sd",
                    "days mean",
                    "days sd",
                ),
                ((name, *_spell_cells(sp)) for name, sp in spells),
            )
        )
    for f in result.lines:
        missing = f", {f.days_missing:,} without a row (left out)" if f.days_missing else ""
        out.print(
            f"[dim]{f.line}: {f.days_used:,} of {f.working_days:,} working days used, "
            f"{f.first} to {f.last}{missing}[/]",
            highlight=False,
        )
        for note in f.notes:
            out.print(f"[dim]{f.line}: {note}[/]", highlight=False)
    for why in result.skipped:
        out.print(f"[yellow]{why}[/]", highlight=False)


def _spell_cells(sp: Spells) -> list[str]:
    def cell(e: Estimate | None, digits: int) -> str:
        return "" if e is None else e.text(digits)

    return [
        f"{sp.count} in {sp.years:.1f} y",
        sp.per_year.text(2),
        cell(sp.depth_mean, 2),
        cell(sp.depth_sd, 2),
        cell(sp.days_mean, 1),
        cell(sp.days_sd, 1),
    ]
