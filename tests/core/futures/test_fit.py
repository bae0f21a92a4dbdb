"""fit: a record simulated from known parameters, by the model's own law (lasting.py on
the scenario's planned output, whole vehicles by the planner's rounding), gives them
back within their standard errors; what cannot be fitted says why."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from promiseline.core.futures.fit import Estimate, Fit, fit
from promiseline.core.futures.lasting import lasting_uptime, spells
from promiseline.core.model.scenario import Scenario, Share, Spread, Uptime
from promiseline.core.planning.capacity import capacity, part_arrivals, planned_vehicles, whole
from promiseline.errors import RecordError
from promiseline.io.scenario_file import scenario_from_dict

FIRST = dt.date(2023, 1, 2)
DAYS = 900  # about ten quarters: level_share is measured by quarters
TWO_LINES = {
    "name": "two-lines",
    "start": "2023-01-02",
    "horizon_days": 60,
    "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat"]},
    "products": [{"model": "A", "variants": [{"name": "S", "parts": {"pack": 1}}]}],
    "plants": [
        {
            "name": "p",
            "lines": [
                {"name": "a", "models": ["A"], "jph": 50, "shifts": [{"from": FIRST, "hours": 16}]},
                {"name": "b", "models": ["A"], "jph": 40, "shifts": [{"from": FIRST, "hours": 20}]},
            ],
        }
    ],
    "parts": [{"name": "pack", "supply": [{"from": FIRST, "per_week": 7000}]}],
    "markets": [{"name": "CN", "lead_days": 3}],
}
# line a: a wide, short-memoried uptime and deep slowdowns; line b: steadier, longer
# memory, no slowdowns
TRUTH = {
    "a": Uptime(mean=0.93, sd=0.05, level_share=0.25, memory_days=4),
    "b": Uptime(mean=0.96, sd=0.03, level_share=0.1, memory_days=8),
}
SLOW = (2.0, Share(mean=0.35, sd=0.05), Spread(mean=30, sd=8))  # line a's: per year, depth, days


def scenario() -> Scenario:
    return scenario_from_dict(TWO_LINES)


def quarters(days: int) -> np.ndarray:
    d = np.datetime64(FIRST, "D") + np.arange(days)
    out: np.ndarray = d.astype("datetime64[M]").astype(np.int64) // 3
    return out


def simulate(s: Scenario, seed: int, days: int = DAYS) -> pl.DataFrame:
    """Each line's daily output: its planned vehicles x uptime drawn by lasting.py (a level
    of each calendar quarter: how fit reads a record) x line a's slowdown spells, made
    whole vehicles by the running-floor rule the planner's slots follow."""
    planned = planned_vehicles(s, FIRST, days)
    rng = np.random.default_rng(seed)
    rows: list[tuple[dt.date, str, int]] = []
    for i, name in enumerate(("a", "b")):
        share = lasting_uptime(rng, TRUTH[name], days, periods=quarters(days))
        if name == "a":
            share = share * spells(rng, *SLOW, days)
        built = np.diff(whole(np.cumsum(planned[i] * share)), prepend=0)
        rows += [
            (FIRST + dt.timedelta(days=d), name, int(built[d]))
            for d in range(days)
            if planned[i, d] > 0
        ]
    return pl.DataFrame(
        rows, schema=[("date", pl.Date), ("line", pl.String), ("built", pl.Int64)], orient="row"
    )


@pytest.fixture(scope="module")
def fitted() -> Fit:
    return fit(scenario(), simulate(scenario(), seed=11), source="simulated")


def within(e: Estimate | None, truth: float, sigmas: float = 3.0) -> bool:
    assert e is not None
    assert e.se is not None, f"no standard error for {e}"
    return abs(e.value - truth) <= sigmas * e.se


def test_planned_vehicles_are_capacity_before_uptime() -> None:
    """The plan a record is read against is capacity's own, before `start` too."""
    s = scenario()
    cap = capacity(s)
    assert np.array_equal(planned_vehicles(s, s.start, s.horizon_days), cap.vehicles)
    before = planned_vehicles(s, s.start - dt.timedelta(days=7), 7)
    assert (before == 0).all()  # before the lines' first shift: nothing planned
    assert part_arrivals(s, s.start, 3).tolist() == [[1000.0] * 3]


def test_uptime_comes_back_within_its_errors(fitted: Fit) -> None:
    by = {f.line: f for f in fitted.lines}
    assert set(by) == {"a", "b"}
    for name, truth in TRUTH.items():
        f = by[name]
        assert f.quarters == 10
        assert f.days_used > 600
        for key in ("mean", "sd", "level_share", "memory_days"):
            est = getattr(f, key)
            assert within(est, getattr(truth, key)), f"{name}.{key}: {est} vs {getattr(truth, key)}"


def test_slowdowns_come_back_within_their_errors(fitted: Fit) -> None:
    a, b = fitted.lines
    sp = a.slowdowns
    assert sp.count >= 3
    per_year, depth, length = SLOW
    assert within(sp.per_year, per_year)
    assert within(sp.depth_mean, depth.mean)
    assert within(sp.days_mean, length.mean)
    assert sp.depth_sd is not None
    assert sp.depth_sd.value < 0.15
    for first, last, cut in sp.found:  # each spell a deep cut of weeks
        assert 0.2 < cut < 0.6
        assert 7 <= (last - first).days + 1 <= 70
    assert b.slowdowns.count == 0  # line b's slower weeks are its own memory, not spells
    slowdown = a.slowdown()
    assert slowdown is not None
    assert slowdown.line == "a"
    assert b.slowdown() is None


def test_the_fit_as_yaml_states_each_error(fitted: Fit) -> None:
    y = fitted.yaml()
    text = "\n".join(y.line_uptime["a"])
    a = fitted.lines[0]
    assert f"mean: {round(a.mean.value, 3):g}" in text
    assert "# ± " in text
    assert "quarters)" in text
    assert y.slowdowns["a"][1] == "- line: a"
    assert y.slowdowns["b"][0].startswith("# promiseline fit: no slowdowns of b in 2.5 years")
    b = fitted.lines[1]
    assert fitted.line_uptime()["b"].memory_days == round(b.memory_days.value, 1)


def test_independent_days_have_no_memory_or_level() -> None:
    """Plain Beta days (the model without lasting keys): memory and level near 0."""
    s = scenario()
    planned = planned_vehicles(s, FIRST, 400)[0]
    rng = np.random.default_rng(5)
    a, b = 0.95 * 300, 0.05 * 300  # Beta(0.95, sd about 0.0126)
    built = np.diff(whole(np.cumsum(planned * rng.beta(a, b, 400))), prepend=0)
    frame = pl.DataFrame(
        {
            "date": [FIRST + dt.timedelta(days=d) for d in range(400) if planned[d] > 0],
            "line": "a",
            "built": built[planned > 0].astype(np.int64),
        }
    )
    f = fit(s, frame).lines[0]
    assert within(f.mean, 0.95)
    assert f.memory_days.value < 1.0  # a day's correlation exp(-1) at most
    assert f.level_share.value < 0.1
    assert f.slowdowns.count == 0


def test_outages_from_receipts() -> None:
    """Receipts of a part cut by 60 % for about a month twice: two outages found."""
    s = scenario()
    days = 500
    expected = part_arrivals(s, FIRST, days)[0]
    rng = np.random.default_rng(3)
    factor = np.ones(days)
    factor[100:130] = 0.4
    factor[300:335] = 0.4
    received = rng.poisson(expected * factor)
    frame = pl.DataFrame(
        {
            "date": [FIRST + dt.timedelta(days=d) for d in range(days)],
            "part": "pack",
            "received": received.astype(np.int64),
        }
    )
    f = fit(s, simulate(s, 2, 200), frame, receipts_source="receipts.csv")
    (part,) = f.parts
    assert part.outages.count == 2
    assert part.outages.depth_mean is not None
    assert part.outages.depth_mean.value == pytest.approx(0.6, abs=0.05)
    assert part.outages.days_mean is not None
    assert part.outages.days_mean.value == pytest.approx(32.5, abs=5)
    outage = part.outage()
    assert outage is not None
    assert outage.part == "pack"
    assert f.yaml().outages["pack"][1] == "- part: pack"


def test_a_record_that_cannot_be_fitted_says_why() -> None:
    s = scenario()
    short = simulate(s, 1, 40)
    with pytest.raises(RecordError, match="line a: 35 working day"):
        fit(s, short, source="short.csv")
    unknown = short.with_columns(pl.lit("z").alias("line"))
    with pytest.raises(RecordError) as e:
        fit(s, unknown, source="u.csv")
    assert "u.csv: unknown line 'z', expected one of ['a', 'b']" in str(e.value)
    empty = short.head(0)
    with pytest.raises(RecordError, match="no rows"):
        fit(s, empty, source="e.csv")
    # one line fitted, the other too short: fitted, and the short one named
    mixed = pl.concat(
        [simulate(s, 1, 150).filter(pl.col("line") == "a"), short.filter(pl.col("line") == "b")]
    )
    f = fit(s, mixed)
    assert [x.line for x in f.lines] == ["a"]
    assert f.skipped == (
        "line b: 35 working days with output in the record, at least 60 needed: not fitted",
    )
    assert any("level_share needs 3 calendar quarters" in n for n in f.lines[0].notes)
    assert f.lines[0].level_share.value == 0


def test_missing_days_are_left_out_not_zero() -> None:
    """A working day without a row is not a day of no output: it is left out."""
    s = scenario()
    full = simulate(s, 4, 400).filter(pl.col("line") == "a")
    holes = full.filter(pl.col("date").dt.day() != 15)  # a day a month unreported
    whole_record, with_holes = fit(s, full).lines[0], fit(s, holes).lines[0]
    assert whole_record.days_missing == 0
    assert with_holes.days_missing == full.height - holes.height
    assert with_holes.working_days == whole_record.working_days
    assert with_holes.mean.value == pytest.approx(whole_record.mean.value, abs=0.005)
    zeros = full.with_columns(
        pl.when(pl.col("date").dt.day() == 15).then(0).otherwise(pl.col("built")).alias("built")
    )
    assert fit(s, zeros).lines[0].mean.value < with_holes.mean.value - 0.01  # zeros count
