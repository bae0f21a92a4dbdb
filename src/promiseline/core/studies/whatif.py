"""What-ifs: a YAML patch over a scenario, and side-by-side comparisons.

A patch has the scenario's own shape and says only what changes. Mappings merge key by
key; lists of named items (plants, lines, parts, markets, lanes, mix limits, levers: by
`name`; products: by `model`) merge item by item, a new name is added and `remove: true`
drops one; an empty list, and any other value (lists of shifts, supply, sailings or gates
included), replaces what was there.

    plants:                         # a third shift on one line from March
      - name: phase-2-majuqiao
        lines:
          - name: p2-final
            shifts: [{from: 2025-06-26, hours: 16}, {from: 2026-03-01, hours: 22}]
    parts:
      - {name: lidar, supply: [{from: 2025-06-26, per_week: 6000}]}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from promiseline.core.model.orders import OrderBook, order_book
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.capacity import capacity
from promiseline.core.planning.plan import Plan
from promiseline.core.readout.export_outlook import home_only, outlooks
from promiseline.core.readout.summary import utilization_days
from promiseline.core.studies.why import Reason, first_change, reasons, reasons_table
from promiseline.errors import ScenarioError

KEYS = ("name", "model")


def _key(item: object) -> str | None:
    """The key naming a list's items, or None: such a list is replaced as a whole. Gates
    (a `model` with a `from`) are not named items: one model may have several."""
    if isinstance(item, dict) and "from" not in item:
        for k in KEYS:
            if k in item:
                return k
    return None


def merge(base: Any, patch: Any, path: str = "") -> Any:
    """`base` with `patch` laid over it (see the module text for the rules)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v, f"{path}.{k}" if path else str(k)) if k in base else v
        return out
    if isinstance(base, list) and isinstance(patch, list):
        if not patch:  # an empty list replaces the list: `lanes: []` clears them
            return patch
        key = _key(base[0]) if base else _key(patch[0])
        if key is None or not all(_key(x) == key for x in base + patch):
            return patch
        out_list = list(base)
        index = {item[key]: i for i, item in enumerate(out_list)}
        for item in patch:
            name = item[key]
            if not isinstance(name, str):
                raise ScenarioError("patch", [f"{path}: {key} must be text, got {name!r}"])
            if item.get("remove") is True:
                if name not in index:
                    raise ScenarioError("patch", [f"{path}: nothing named {name!r} to remove"])
                out_list[index[name]] = None
                continue
            if name in index and out_list[index[name]] is not None:
                out_list[index[name]] = merge(out_list[index[name]], item, f"{path}[{name}]")
            else:
                index[name] = len(out_list)
                out_list.append(item)
        return [x for x in out_list if x is not None]
    return patch


Build = Callable[[object, str], Scenario]
"""Validates plain data as a scenario, naming the source in errors (io's scenario_from_dict)."""


def patched(
    scenario: Scenario, patch: dict[str, Any], build: Build, source: str = "patch"
) -> Scenario:
    """The scenario with a patch applied, validated as a whole by `build`."""
    if not isinstance(patch, dict):
        raise ScenarioError(source, [f"a patch is a mapping of scenario keys, got {patch!r}"])
    base = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        merged = merge(base, patch)
    except ScenarioError as e:  # name the patch it came from
        raise ScenarioError(source, e.problems) from None
    return build(merged, f"{scenario.name} + {source}")


def early_changes(base: Scenario, whatif: Scenario, name: str = "what-if") -> list[str]:
    """What a what-if changes before it could happen: capacity changed on days before the
    plan's day (gone: only the change from that day counts) or sooner than its kind of
    lever can be ready (the sizing section's `lead_days`: a shift, a line, a part)."""
    found = first_change(capacity(base), capacity(whatif))
    said = []
    for (kind, what), date in sorted(found.items(), key=lambda kv: (kv[1], kv[0])):
        noun = "part" if kind == "part" else "line"
        lead = getattr(base.sizing.lead_days, kind)
        ready = base.now + dt.timedelta(days=lead)
        if date < base.now:
            said.append(
                f"{name}: {noun} {what} changes from {date}, before the plan's day "
                f"{base.now}: days gone are not planned again, only the change from "
                f"{base.now} counts"
            )
        elif date < ready:
            said.append(
                f"{name}: {noun} {what} changes from {date}, sooner than a {kind} can be "
                f"ready ({lead} days from {base.now}: {ready}; sizing.lead_days.{kind})"
            )
    return said


@dataclass(frozen=True, slots=True)
class Comparison:
    """Plans of several scenarios over one order book, and their key figures; `warnings`
    name what a what-if changes before it could happen (see `early_changes`)."""

    names: tuple[str, ...]
    plans: tuple[Plan, ...]
    warnings: tuple[str, ...] = ()

    def waits(self) -> pl.DataFrame:
        """Median and P90 wait per model and variant, a column pair per scenario."""
        frames = []
        for name, p in zip(self.names, self.plans, strict=True):
            w = p.planned.group_by("model", "variant").agg(
                pl.col("wait_days").median().alias(f"{name} median"),
                pl.col("wait_days").quantile(0.9, "linear").alias(f"{name} P90"),
            )
            frames.append(w)
        out = frames[0]
        for f in frames[1:]:
            out = out.join(f, on=["model", "variant"], how="full", coalesce=True)
        return out.sort("model", "variant")

    def reasons(self, min_days: float = 3.0) -> list[Reason]:
        """Why each model and variant whose median or P90 wait moved by more than
        `min_days` under each what-if moved, against the first scenario (why.py)."""
        base = self.plans[0]
        return [
            r
            for name, p in zip(self.names[1:], self.plans[1:], strict=True)
            for r in reasons(base, p, name, min_days)
        ]

    def why(self, min_days: float = 3.0) -> pl.DataFrame:
        """`reasons` as a table: what-if, model, variant, median and P90 before → after,
        and why in words."""
        return reasons_table(self.reasons(min_days))

    def deliveries_by_month(self) -> pl.DataFrame:
        """Cars delivered per calendar month, a column per scenario: every month from the
        first delivery in any scenario to the last in any, months without one as 0."""
        frames = []
        for name, p in zip(self.names, self.plans, strict=True):
            frames.append(
                p.planned.group_by(pl.col("delivery_date").dt.truncate("1mo").alias("month"))
                .len()
                .rename({"len": name})
                .with_columns(pl.col(name).cast(pl.Int64))
            )
        found = pl.concat([f["month"] for f in frames])
        first, last = found.min(), found.max()
        months = (
            pl.date_range(first, last, "1mo", eager=True)
            if isinstance(first, dt.date) and isinstance(last, dt.date)
            else pl.Series([], dtype=pl.Date)
        )
        out = pl.DataFrame({"month": months})
        for f in frames:
            out = out.join(f, on="month", how="left")
        return out.fill_null(0)

    @property
    def by_sea(self) -> bool:
        """Whether some scenario reaches a market by sea."""
        return any(p.by_sea for p in self.plans)

    def export_outlook(self) -> pl.DataFrame:
        """Each scenario's export figures, one row each: waits at home (all, and since the
        first export order of the first scenario), waits abroad, the last export delivery,
        the port yard's peak (readout.export_outlook.outlook)."""
        return outlooks(list(zip(self.names, self.plans, strict=True)))

    def backlog_at(self, dates: Sequence[dt.date] | None = None) -> pl.DataFrame:
        """Orders waiting to be built on each date, a column per scenario (None: not in the
        horizon); by default 3, 6 and 12 months into the first scenario."""
        if dates is None:
            dates = default_dates(self.plans[0].scenario)
        rows = []
        for d in dates:
            row: dict[str, Any] = {"date": d}
            for name, p in zip(self.names, self.plans, strict=True):
                b = p.backlog()
                hit = b.filter(pl.col("date") == d)
                row[name] = int(hit["backlog"][0]) if hit.height else None
            rows.append(row)
        return pl.DataFrame(rows)

    def simulated_waits(self, futures: int, seed: int = 0) -> pl.DataFrame:
        """Per model and variant, the median of each order's P90 wait over a Monte Carlo
        run of each scenario (each scenario's own plan is the futures' base)."""
        from promiseline.core.futures.simulate import simulate

        out: pl.DataFrame | None = None
        for name, p in zip(self.names, self.plans, strict=True):
            sim = simulate(p.scenario, p, futures=futures, seed=seed)
            rows = pl.DataFrame(sim.summary()["by_variant"]).select(
                "model", "variant", pl.col("median_of_p90_wait").alias(name)
            )
            out = (
                rows
                if out is None
                else out.join(rows, on=["model", "variant"], how="full", coalesce=True)
            )
        assert out is not None
        return out.sort("model", "variant")

    def utilization_period(self) -> tuple[dt.date, dt.date]:
        """The days the utilization table covers, in every scenario alike: from the
        earliest start through the latest last build day of any scenario."""
        return (
            min(p.capacity.start for p in self.plans),
            max(p.capacity.date(utilization_days(p) - 1) for p in self.plans),
        )

    def utilization(self) -> pl.DataFrame:
        """Built / capacity per line over `utilization_period()`, a column per scenario
        (one period for all, so the columns compare like with like)."""
        first, last = self.utilization_period()
        out: pl.DataFrame | None = None
        for name, p in zip(self.names, self.plans, strict=True):
            share = (
                p.line_days()
                .filter(pl.col("date").is_between(first, last))
                .group_by("line", maintain_order=True)
                .agg(pl.col("built").sum(), pl.col("capacity").sum())
                .select(
                    "line",
                    pl.when(pl.col("capacity") > 0)
                    .then((pl.col("built") / pl.col("capacity")).round(4))
                    .otherwise(0.0)
                    .alias(name),
                )
            )
            out = (
                share
                if out is None
                else out.join(share, on="line", how="full", coalesce=True, maintain_order="left")
            )
        assert out is not None
        return out


# the columns a comparison's tables have besides one per scenario (a scenario named so
# would make two columns of one name, or one that says the wrong thing)
COLUMNS = ("month", "date", "model", "variant", "line", "scenario", "since")


def check_names(names: Sequence[str]) -> None:
    """Scenario names become column names in every table of a comparison: none may be
    empty, a table's own column or another scenario's name (case aside), or
    ScenarioError naming the name and why."""
    problems = []
    seen: set[str] = set()
    for name in names:
        key = name.strip().casefold()
        if not key:
            problems.append(f"name {name!r}: a scenario needs a name")
        elif key in COLUMNS:
            problems.append(
                f"name {name!r}: a column of the comparison's tables has it; "
                f"choose another (not one of {', '.join(COLUMNS)})"
            )
        elif key in seen:
            problems.append(f"name {name!r}: another scenario of the comparison has it")
        seen.add(key)
    if problems:
        raise ScenarioError("names", problems)


def compare(scenarios: list[tuple[str, Scenario]], orders: Any) -> Comparison:
    """Plan one order book on each scenario (their names: see `check_names`)."""
    from promiseline.core.planning.planner import plan

    check_names([n for n, _ in scenarios])

    plans = []
    for _, s in scenarios:
        book = order_book(orders if not hasattr(orders, "table") else orders.table, s)
        plans.append(plan(s, book))
    base = scenarios[0][1]
    warnings = [w for name, s in scenarios[1:] for w in early_changes(base, s, name)]
    return Comparison(tuple(n for n, _ in scenarios), tuple(plans), tuple(warnings))


def export_outlook(
    base: Plan, orders: pl.DataFrame | OrderBook, whatifs: Sequence[tuple[str, Scenario]]
) -> pl.DataFrame:
    """What export does to the waits at home and abroad, one row each (see
    `Comparison.export_outlook`): the plan `base` of `orders`, the same orders planned
    without those of the markets by sea ("no export"), and planned on each named what-if."""
    table = orders.table if isinstance(orders, OrderBook) else orders
    home = compare([("no export", base.scenario)], home_only(table, base))
    each = compare(list(whatifs), table)
    names, plans = ("plan", *home.names, *each.names), (base, *home.plans, *each.plans)
    return Comparison(names, plans).export_outlook()


def default_dates(s: Scenario) -> list[dt.date]:
    """Backlog checkpoints: 3, 6 and 12 months in."""
    return [s.start + dt.timedelta(days=d) for d in (91, 182, 365) if d < s.horizon_days]


__all__ = [
    "Comparison",
    "compare",
    "default_dates",
    "early_changes",
    "export_outlook",
    "merge",
    "patched",
]
