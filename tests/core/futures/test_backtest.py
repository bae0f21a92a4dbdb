"""Backtest: a replay sees only what was known, a certain world keeps every promise, and
a world worse than the planner thinks is caught."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.futures.backtest import backtest, blind_spots, known_on, realize
from promiseline.core.futures.simulate import one_future, simulate
from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.planner import plan
from promiseline.errors import InvalidRequestError
from tests.conftest import examples

START = dt.date(2026, 1, 5)


def whole_day_scenario(uncertainty: dict[str, Any] | None = None) -> Scenario:
    """Capacities in whole units a day (16 slots, 10 packs), so a replay that restarts
    the scenario on any day rounds exactly as the full horizon does."""
    data: dict[str, Any] = {
        "name": "whole-days",
        "start": START,
        "horizon_days": 120,
        "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "products": [
            {
                "model": "M",
                "variants": [{"name": "base"}, {"name": "long", "parts": {"pack": 1}}],
            }
        ],
        "plants": [
            {
                "name": "p",
                "lines": [
                    {
                        "name": "l1",
                        "models": ["M"],
                        "jph": 2,
                        "shifts": [{"from": START, "hours": 8}],
                        "ramp_up": {
                            "from": START + dt.timedelta(days=10),
                            "initial": 0.5,
                            "weeks": 0,
                        },
                    }
                ],
            }
        ],
        "parts": [{"name": "pack", "stock": 30, "supply": [{"from": START, "per_week": 70}]}],
        "mix_limits": [{"name": "long-half", "match": {"variant": "long"}, "max_share": 0.75}],
        "markets": [
            {"name": "near", "lead_days": 3},
            {"name": "far", "lead_days": 20, "opens": START + dt.timedelta(days=40)},
        ],
    }
    if uncertainty is not None:
        data["uncertainty"] = uncertainty
    return Scenario.model_validate(data)


def orders(n: int, seed: int, days: int = 40) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    lock = np.sort(rng.integers(-10 * 24, days * 24, n))
    return pl.DataFrame(
        {
            "order_id": [f"o{i:05d}" for i in range(n)],
            "model": ["M"] * n,
            "variant": rng.choice(["base", "long"], n).tolist(),
            "market": rng.choice(["near", "far"], n, p=[0.8, 0.2]).tolist(),
            "locked_at": [
                (dt.datetime.combine(START, dt.time()) + dt.timedelta(hours=int(h))).isoformat()
                for h in lock
            ],
        }
    )


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 700), seed=st.integers(0, 10**6), day=st.integers(0, 60))
def test_in_a_certain_world_a_replay_plans_what_happened(n: int, seed: int, day: int) -> None:
    """Nothing uncertain: the reality is the plan, and the plan made as of any later day
    from what was known then (history as the plant reported it, the orders waiting)
    places every order exactly where the reality built it."""
    s = whole_day_scenario()
    book = orders(n, seed)
    reality = realize(s, book, seed=1)
    full = plan(s, validate_orders(book, s)).table
    real = dict(zip(full["order_id"], full["delivery_date"], strict=True))
    got = dict(zip(reality.book["order_id"], reality.delivery.tolist(), strict=True))
    for oid, d in real.items():
        assert got[oid] == ((d - START).days if d is not None else -1)
    scenario, known = known_on(s, reality, day)
    assert (scenario.start, scenario.now) == (START, START + dt.timedelta(days=day))
    if known.height == 0:
        return
    replay = plan(scenario, validate_orders(known, scenario)).table
    for oid, d in zip(replay["order_id"], replay["delivery_date"], strict=True):
        assert d == real[oid], oid


def test_known_on_sees_only_the_past() -> None:
    """On day 20 the service knows: history as the plant reported it (built before the
    day, delivered once its delivery passed), the next frozen days scheduled where the
    plant will build them, and the rest locked so far and not cancelled; the scenario as
    of that day, its supply as planned (no shortfall came)."""
    s = whole_day_scenario({"cancellation": {"base_weekly": 0.05}}).replace(frozen_days=3)
    book = orders(600, 3)
    reality = realize(s, book, seed=4)
    scenario, known = known_on(s, reality, 20)
    r = reality
    got = dict(zip(known["order_id"], known["status"], strict=True))
    for i, oid in enumerate(r.book["order_id"]):
        built = 0 <= r.build[i] < 20
        waiting = r.locked[i] < 20 and r.cancel_on[i] >= 20
        assert (oid in got) == (built or waiting), oid
        if built:
            assert got[oid] == ("delivered" if 0 <= r.delivery[i] < 20 else "built"), oid
        elif oid in got:
            assert got[oid] == ("scheduled" if r.build[i] < 23 and r.build[i] >= 0 else "locked")
    assert {"built", "delivered", "scheduled", "locked"} <= set(got.values())
    assert scenario.now == START + dt.timedelta(days=20)
    assert (scenario.parts, scenario.horizon_days) == (s.parts, s.horizon_days)
    assert not validate_orders(known, scenario).rejected


def test_the_parts_that_came_are_known() -> None:
    """A replay knows the parts that really came before its day (the reality's shortfalls
    included) and plans the planner's supply from then on; its futures draw shortfalls
    from that day only. Redrawn for the days gone, they took parts away that had come, or
    counted parts that never did, in every future alike."""
    from promiseline.core.planning.capacity import capacity

    s = whole_day_scenario(
        {"shortfalls": [{"part": "pack", "per_month": 0.9, "depth": 0.6, "days": 6}]}
    )
    book = orders(300, 5)
    day = 30
    reality = next(
        r
        for seed in range(20)
        if (r := realize(s, book, seed)).arrival_scale is not None
        and (r.arrival_scale[0, :day] < 1).any()
    )
    scenario, book_then = known_on(s, reality, day)
    known, planned = capacity(scenario).on_hand, capacity(s).on_hand
    assert np.array_equal(known[:, :day], reality.on_hand[:, :day])
    assert not np.array_equal(known[:, :day], planned[:, :day])
    came = known[:, day:] - known[:, day - 1 : day]
    assert np.array_equal(came, planned[:, day:] - planned[:, day - 1 : day])
    prep = simulate(scenario, book_then, futures=1, seed=3).prep
    for f in range(5):
        scale = one_future(prep, f).draw.supply_scale
        assert scale is not None
        assert (scale[:, :day] == 1).all()


def test_a_replay_keeps_the_inflow_start_of_its_world() -> None:
    """By default new orders start after the book's last lock; a replay's book holds the
    new orders that came, so without the world's start pinned each replay's futures drew
    a fresh surge from its own last lock."""
    s = whole_day_scenario({"inflow": {"per_day": 5.0, "half_life_days": 10, "days": 60}})
    book = orders(200, 2, days=10)
    reality = realize(s, book, seed=1)
    last_lock = dt.datetime.fromisoformat(str(book["locked_at"].max())).date()
    assert reality.inflow_start == (last_lock - START).days + 1
    scenario, known = known_on(s, reality, 40)
    assert known.height > book.height  # new orders came, locked later than the book's
    assert scenario.uncertainty is not None
    assert scenario.uncertainty.inflow is not None
    assert scenario.uncertainty.inflow.start == last_lock + dt.timedelta(days=1)
    dated = s.replace(uncertainty={"inflow": {"per_day": 5.0, "start": START}})
    then, _ = known_on(dated, realize(dated, book, seed=1), 40)
    assert then.uncertainty.inflow.start == START  # type: ignore[union-attr]


def test_a_reality_says_what_it_drew() -> None:
    """A reality's luck, shared by all its orders: the ramp-up's slip it drew, each line's
    mean uptime over the year from its day, the share of a disrupted part's supply that
    came; a backtest lists it per reality."""
    s = whole_day_scenario(
        {
            "uptime": {"mean": 0.9, "sd": 0.05},
            "ramp_slip": {"mean": 6, "sd": 0},
            "shortfalls": [{"part": "pack", "per_month": 1.0, "depth": 0.5, "days": 6}],
        }
    )
    reality = realize(s, orders(100, 1), seed=0)
    luck = reality.luck
    assert luck["ramp_slip_days"] == {"l1": 6}
    assert abs(luck["uptime"]["l1"] - 0.9) < 0.03  # 120 days of Beta(0.9, 0.05)
    assert 0.5 <= luck["supply_share"]["pack"] < 1  # a shortfall each month, half cut
    plain = realize(whole_day_scenario(), orders(100, 1), seed=0)
    assert plain.luck == {}
    bt = backtest(s, orders(100, 1), realities=2, futures=4, every_days=10, span_days=20)
    each = bt.to_json()["per_reality"]
    assert [r["luck"]["ramp_slip_days"] for r in each] == [{"l1": 6}, {"l1": 6}]
    assert each[0]["luck"]["uptime"] != each[1]["luck"]["uptime"]


def test_a_ramp_up_shows_its_start_only_once_it_started() -> None:
    s = whole_day_scenario({"ramp_slip": {"mean": 6, "sd": 0}})
    reality = realize(s, orders(100, 1), seed=0)
    nominal = START + dt.timedelta(days=10)
    assert reality.ramp_start == {"l1": nominal + dt.timedelta(days=6)}
    before, _ = known_on(s, reality, 5)  # not due yet: the common spread
    assert before.uncertainty is not None
    assert before.uncertainty.line_ramp_slip == {}
    late, _ = known_on(s, reality, 13)  # due three days ago, not started: late by 4+
    assert late.uncertainty is not None
    assert late.uncertainty.line_ramp_slip["l1"].at_least == 4
    assert late.plants[0].lines[0].ramp_up.from_ == nominal  # type: ignore[union-attr]
    known, _ = known_on(s, reality, 17)  # started on day 16: known
    assert known.uncertainty is not None
    assert known.uncertainty.line_ramp_slip["l1"].mean == 0
    assert known.plants[0].lines[0].ramp_up.from_ == nominal + dt.timedelta(days=6)  # type: ignore[union-attr]


def test_a_certain_world_keeps_every_promise() -> None:
    """No uncertainty: every window is one day, and every one comes true."""
    s = whole_day_scenario()
    out = backtest(s, orders(800, 5), futures=3, every_days=7, span_days=42).to_json()
    assert out["orders_scored"] > 700
    assert out["coverage_p10_p90"] == 1.0
    assert out["coverage_latest"] == 1.0
    assert out["on_time_first_promise"] == 1.0
    assert out["mean_abs_error_days_first"] == 0.0
    assert out["crps_days"] == 0.0
    assert out["churn_per_order"] == 0.0
    assert out["stated_p10_p90"] == 1.0  # one-day windows holding every future say so
    assert out["verdict"].startswith("windows honest: 100% of deliveries inside 100% windows")
    # orders that lock during the replays are told a window at their lock, and it holds
    assert out["first_promises_at_lock"] > 500


def test_blind_spots_say_what_no_future_of_a_replay_knows() -> None:
    """No uncertainty, or an empty one: said. Orders locking on or after the first replay
    day with a smaller priority than an order locked before them and still waiting:
    counted as a plain loop counts them, inflow law or not (it draws orders at the back);
    orders of one priority, or cancelled ones, jump nothing."""
    book = orders(300, 7, days=30)  # locks from 10 days before the start to day 30
    (only,) = blind_spots(whole_day_scenario(), book)
    assert "no `uncertainty`" in only
    assert blind_spots(whole_day_scenario({}), book) == [only]
    assert blind_spots(whole_day_scenario(NOISE), book) == []  # one priority: behind all
    n = book.height
    jumps = book.with_columns(  # priorities 1, 2, 3 in turn; every 7th order cancelled
        priority=pl.int_range(n) % 3 + 1,
        status=pl.when(pl.int_range(n) % 7 == 0)
        .then(pl.lit("cancelled"))
        .otherwise(pl.lit("locked")),
    )
    first = dt.datetime.combine(START, dt.time())
    want, most = 0, None
    for row in jumps.sort("locked_at").iter_rows(named=True):
        if row["status"] == "cancelled":
            continue
        locked = dt.datetime.fromisoformat(row["locked_at"])
        want += locked >= first and most is not None and row["priority"] < most
        most = row["priority"] if most is None else max(most, row["priority"])
    assert want > 50
    (only,) = blind_spots(whole_day_scenario(NOISE), jumps)
    assert only.startswith(f"{want:,} orders of the book lock on or after {START}")
    inflow = NOISE | {"inflow": {"per_day": 5}}
    assert blind_spots(whole_day_scenario(inflow), jumps) == [only]
    assert len(blind_spots(whole_day_scenario(), jumps)) == 2


NOISE = {
    "uptime": {"mean": 0.9, "sd": 0.15},
    "ramp_slip": {"mean": 5, "sd": 4},
    "shortfalls": [{"part": "pack", "per_month": 0.5, "depth": 0.6, "days": 6}],
    "cancellation": {"base_weekly": 0.01, "per_month_wait": 0.01},
}


def test_own_uncertainty_is_honest_and_a_worse_world_is_caught() -> None:
    """Realities drawn from the planner's own uncertainty land inside 80 % windows about
    80 % of the time (over several realities: each shares its luck); a world whose lines
    run far worse than the planner thinks is caught and named."""
    s = whole_day_scenario(NOISE)
    book = orders(900, 7, days=30)
    own = backtest(s, book, futures=60, every_days=7, span_days=35, realities=6, seed=11)
    j = own.to_json()
    assert abs(j["coverage_p10_p90"] - j["stated_p10_p90"]) <= 0.1, j
    worse = s.replace(uncertainty=NOISE | {"uptime": {"mean": 0.6, "sd": 0.15}})
    bad = backtest(
        s,
        book,
        worlds=[("worse uptime", worse)],
        futures=60,
        every_days=7,
        span_days=35,
        realities=2,
    ).to_json()
    assert bad["coverage_p10_p90"] < 0.5
    assert bad["verdict"].startswith("windows too narrow")
    assert "after the window" in bad["verdict"]
    assert bad["mean_abs_error_days_first"] > j["mean_abs_error_days_first"]


def test_scores_by_weeks_ahead_add_up() -> None:
    s = whole_day_scenario(NOISE)
    j = backtest(s, orders(500, 2), futures=20, every_days=7, span_days=28).to_json()
    rows = j["by_weeks_ahead"]
    assert [r["weeks"] for r in rows] == ["0-3", "4-7", "8-12", "13-25", "26-38", "39-51", "52+"]
    assert (
        sum(r["promises"] for r in rows) > j["orders_scored"]
    )  # every promise, not only the first
    assert len(j["pit_histogram"]) == 10
    assert abs(sum(j["pit_histogram"]) - 1) < 1e-3
    assert j["churn_per_order"] >= 0


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"every_days": 0, "span_days": 28}, "every must be"),
        ({"span_days": 500}, "span must be"),
        ({"span_days": 0}, "span must be"),  # not "every must be 1 to 0 days"
        ({"realities": 0, "span_days": 28}, "realities must be"),
    ],
)
def test_bad_arguments_are_named(kw: dict[str, int], message: str) -> None:
    s = whole_day_scenario()
    with pytest.raises(InvalidRequestError, match=message):
        backtest(s, orders(10, 1), **kw)  # type: ignore[arg-type]


def test_a_reality_must_keep_the_names() -> None:
    s = whole_day_scenario()
    other = s.replace(
        parts=[{"name": "cells", "stock": 1}],
        products=[{"model": "M", "variants": [{"name": "base"}, {"name": "long"}]}],
    )
    with pytest.raises(InvalidRequestError, match="parts"):
        backtest(s, orders(10, 1), worlds=[("x", other)], span_days=28)


def test_promises_told_add_up_by_weeks_ahead_and_by_when_told() -> None:
    """Every promise told is in one weeks-ahead bucket and in one 4-week period of the
    span it was told in; each bucket states its odds and beats or meets a naive window
    only by being honest about width (the baseline is reported, not assumed)."""
    s = whole_day_scenario(NOISE)
    j = backtest(s, orders(500, 2), futures=20, every_days=7, span_days=56).to_json()
    ahead, told = j["by_weeks_ahead"], j["by_told_weeks"]
    assert [r["weeks"] for r in told] == ["0-3", "4-7"]
    assert sum(r["promises"] for r in ahead) == sum(r["promises"] for r in told) > 0
    for r in ahead + told:
        if r["promises"]:
            assert 0.0 <= r["coverage"] <= 1.0
            assert r["stated"] is None or 0.8 - 1e-9 <= r["stated"] <= 1.0
            assert r["mean_width_days"] >= 0
            assert r["interval_score"] >= r["mean_width_days"]
    assert any(r["baseline_width_days"] is not None for r in ahead if r["promises"])
    assert "furthest off:" in j["verdict"]


def test_naive_baseline_by_hand() -> None:
    """Errors of the plan's date of -1, 0 (x8) and +3 days: P10 is -1 (the first day the
    distribution reaches 10 %), P90 is 0, width 1; the interval score is the width plus
    10 x the days outside (3, once), over 10 outcomes: 1 + 3 = 4.0."""
    from promiseline.core.futures.backtest import ERR_SPAN, naive_baseline

    errors = np.zeros(2 * ERR_SPAN + 1, dtype=np.int64)
    errors[ERR_SPAN - 1] = 1
    errors[ERR_SPAN] = 8
    errors[ERR_SPAN + 3] = 1
    assert naive_baseline(errors) == (1.0, pytest.approx(4.0))
    assert naive_baseline(np.zeros_like(errors)) is None


def surge_book() -> pl.DataFrame:
    """100 orders locked in the two days before the start, 500 in 12 hours of day 1."""
    rng = np.random.default_rng(3)
    n = 600
    hours = np.sort(np.concatenate([rng.integers(-48, 0, 100), rng.integers(30, 42, n - 100)]))
    return orders(n, 3).with_columns(
        pl.Series(
            "locked_at",
            [
                (dt.datetime.combine(START, dt.time()) + dt.timedelta(hours=int(h))).isoformat()
                for h in hours
            ],
        )
    )


def test_a_surge_is_told_from_simulations_that_know_most_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service simulates again as soon as the book changed; the backtest does once the
    orders taken since its last simulation are a twentieth of the queue it knew: a surge of
    a day is told in steps, each from a simulation that knew most of what came before."""
    import promiseline.core.futures.backtest as bt

    seen: list[int] = []
    real = bt.simulate

    def counted(scenario: Scenario, book: Any, **kw: Any) -> Any:
        sim = real(scenario, book, **kw)
        seen.append(len(sim.base.table))  # the orders it knew
        return sim

    monkeypatch.setattr(bt, "simulate", counted)
    out = backtest(
        whole_day_scenario(NOISE), surge_book(), futures=4, every_days=28, span_days=28
    ).to_json()
    assert out["first_promises_at_lock"] >= 450
    # one replay; the surge of day 1 (500 orders on 100 known) in steps of a twentieth of
    # the queue known, each simulation knowing more of it
    assert len(seen) >= 4
    assert seen == sorted(seen)
    assert seen[-1] > 2 * seen[0]


def test_no_window_is_carried_far_past_the_queue_simulated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An order planned more than BEYOND_DAYS past the last stretch its latest simulation
    knew is told only after a new simulation (that knows the orders told before it): only
    the first orders told from a fresh simulation may lie that far past it."""
    import promiseline.core.futures.backtest as bt

    fresh = [False]
    calls: list[tuple[bool, int]] = []  # (from a fresh simulation, orders told too far)
    real_simulate, real_tell = bt.simulate, bt._tell

    def simulated(scenario: Scenario, book: Any, **kw: Any) -> Any:
        fresh[0] = True
        return real_simulate(scenario, book, **kw)

    def tell(ledger: Any, r: Any, spread: Any, day: int, new: Any, rows: Any, p: Any) -> None:
        t = p.table.join(rows.select("order_id"), on="order_id")
        now = r.world.start + dt.timedelta(days=day)
        far = 0
        for model, variant, market, delivery in t.select(
            "model", "variant", "market", "delivery_date"
        ).rows():
            entry = spread.table.get((model, variant, market))
            if entry is not None and delivery is not None:
                far += (delivery - now).days > entry[0][-1] + bt.BEYOND_DAYS
        calls.append((fresh[0], far))
        fresh[0] = False
        real_tell(ledger, r, spread, day, new, rows, p)

    monkeypatch.setattr(bt, "simulate", simulated)
    monkeypatch.setattr(bt, "_tell", tell)
    monkeypatch.setattr(bt, "GROWTH_LEAST", 400)  # steps of 400 orders: 25 days of output
    out = backtest(
        whole_day_scenario(NOISE), surge_book(), futures=4, every_days=28, span_days=28
    ).to_json()
    assert out["first_promises_at_lock"] >= 450
    assert len(calls) >= 3  # the surge was told in steps
    assert all(f for f, far in calls if far)


def test_a_queue_built_down_is_not_simulated_for_every_order() -> None:
    """Once the queue is built down to a few orders (or none), the orders taken still
    wait for GROWTH_LEAST of them before a new simulation (a year's backtest of a small
    book simulated again for every order and took 14 minutes)."""
    from promiseline.core.futures.backtest import GROWTH, GROWTH_LEAST, _Teller

    t = _Teller(futures=4, seed=0, runner=None, chunks=1)
    assert t.room() == GROWTH_LEAST
    t.since = GROWTH_LEAST - 1
    assert not t.stale()
    t.since = GROWTH_LEAST
    assert t.stale()
    t.queued, t.since = 10_000, 0
    assert t.room() == int(GROWTH * 10_000)


def test_coverage_standard_error_by_hand() -> None:
    """Clustered by reality: two realities of 100 promises holding 90 and 50 pool to 0.7,
    give or take sqrt(2 / 1 x (20² + 20²)) / 200 = 0.2; one reality says nothing of it."""
    from promiseline.core.futures.backtest import ACC, A, coverage_se

    rows = np.zeros((2, len(ACC)))
    rows[:, A["promises"]] = 100
    rows[:, A["inside"]] = [90, 50]
    assert coverage_se(rows) == pytest.approx(0.2)
    assert coverage_se(rows[:1]) is None
    rows[1, A["promises"]] = rows[1, A["inside"]] = 0  # told nothing in this bucket
    assert coverage_se(rows) is None
