"""Promise windows (window.py): 3 days or 5 % of the wait, the same rule per order and per
plan, and exactly the moved or never-promised windows found."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.futures.calibration import WEEK_BUCKETS
from promiseline.core.futures.promises import (
    Promises,
    QueueSpread,
    changes,
    new_order_window,
    plan_windows,
    promise_window,
    recalibrated,
    recalibrated_window,
    simulated_windows,
    slack_days,
    window_moved,
)
from promiseline.core.futures.recalibrate import Margins
from promiseline.core.futures.simulate import simulate, told_windows
from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.model.window import (
    MONTE_CARLO,
    NEARBY,
    NO_WINDOW,
    ModelWindow,
    Window,
    WindowChange,
)
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan
from tests.conftest import examples
from tests.strategies import order_tables, scenarios

LOCKED = dt.date(2025, 1, 1)
D = dt.timedelta


def day(n: int) -> dt.date:
    return LOCKED + D(days=n)


@pytest.mark.parametrize(
    ("wait", "slack"),
    [(-5, 3), (0, 3), (1, 3), (60, 3), (61, 4), (80, 4), (81, 5), (200, 10), (365, 19)],
)
def test_slack_is_three_days_or_five_percent_rounded_up(wait: int, slack: int) -> None:
    """The window's width: at least 3 days, else 5 % of the wait rounded up."""
    assert slack_days(wait) == slack


def test_promise_window_by_hand() -> None:
    """From the delivery date to delivery + slack of the wait since locking; build date and
    queue position kept; no window without both dates."""
    assert promise_window(day(50), day(57), LOCKED, 12) == Window(day(50), day(57), day(60), 12)
    assert promise_window(day(90), day(97), LOCKED, 3) == Window(day(90), day(97), day(102), 3)
    assert promise_window(None, day(9), LOCKED, None) is None
    assert promise_window(day(2), None, LOCKED, None) is None


def test_window_to_json() -> None:
    """Dates as ISO text, no date as null."""
    assert Window(day(1), day(8), day(11), 4).to_json() == {
        "build_date": "2025-01-02",
        "earliest": "2025-01-09",
        "likely": "2025-01-09",
        "latest": "2025-01-12",
        "probability": None,
        "confidence": None,
        "source": "plan",
        "queue_position": 4,
    }
    mc = Window(day(1), day(7), day(12), 4, day(9), "monte-carlo", 0.8312)
    assert mc.to_json() | {"build_date": None} == {
        "build_date": None,
        "earliest": "2025-01-08",
        "likely": "2025-01-10",
        "latest": "2025-01-13",
        "probability": 0.83,
        "confidence": 0.83,
        "source": "monte-carlo",
        "queue_position": 4,
    }
    assert NO_WINDOW.to_json() == dict.fromkeys(
        ("build_date", "earliest", "likely", "latest", "probability", "confidence")
    ) | {"source": "plan", "queue_position": None}
    change = WindowChange("o1", NO_WINDOW, Window(day(1), day(8), day(11), 4))
    assert change.to_json() == {"from": NO_WINDOW.to_json(), "to": change.after.to_json()}


def expected_windows(p: Plan) -> list[tuple[str, Window]]:
    out = []
    for r in p.planned.iter_rows(named=True):
        w = promise_window(
            r["build_date"], r["delivery_date"], r["locked_at"].date(), r["queue_position"]
        )
        if w is not None:
            out.append((r["order_id"], w))
    return out


def test_plan_windows_by_hand(tiny_plan: Plan) -> None:
    """The tiny plan: one window per planned order, none for reserved or unplanned ones."""
    promised = plan_windows(tiny_plan)
    assert len(promised) == tiny_plan.planned.height
    assert promised.items() == expected_windows(tiny_plan)
    assert "o20" not in dict(promised.items())  # reserved: quoted, not promised


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_plan_windows_equal_promise_window_row_by_row(data: st.DataObject) -> None:
    """The vectorized windows of a plan are promise_window of each planned row, in order."""
    s = data.draw(scenarios())
    p = plan(s, validate_orders(data.draw(order_tables(s)), s))
    assert plan_windows(p).items() == expected_windows(p)


def promises(rows: dict[str, Window]) -> Promises:
    ids = list(rows)
    ws = [rows[i] for i in ids]
    return Promises.of(
        ids,
        [w.build_date for w in ws],
        [w.earliest for w in ws],
        [w.latest for w in ws],
        [w.queue_position for w in ws],
        [w.likely for w in ws],
        [w.source for w in ws],
    )


def test_changes_by_hand() -> None:
    """Moved earliest or latest dates are changes; a new build date or queue position alone
    is not; an order never told a window is a first promise; orders on one side only are
    neither."""
    same = Window(day(10), day(17), day(20), 1)
    old = {
        "same": same,
        "requeued": same,
        "earlier": same,
        "wider": same,
        "never": NO_WINDOW,
        "gone": same,  # not in the new plan
    }
    new = {
        "same": same,
        "requeued": Window(day(11), day(17), day(20), 9),
        "earlier": Window(day(9), day(16), day(19), 1),
        "wider": Window(day(10), day(17), day(21), 1),
        "never": same,
        "fresh": same,  # not promised before: not in the store's promises
    }
    first, moved = changes(promises(new), promises(old))
    assert first.items() == [("never", same)]
    assert moved == [
        WindowChange("earlier", same, new["earlier"]),
        WindowChange("wider", same, new["wider"]),
    ]


told = st.builds(
    lambda b, e, w, q: Window(day(b), day(b + e), day(b + e + w), q),
    st.integers(0, 3),
    st.integers(0, 2),
    st.integers(3, 4),
    st.integers(1, 3),
)
windows = st.one_of(st.just(NO_WINDOW), told)


@settings(max_examples=examples(100), deadline=None)
@given(
    old=st.dictionaries(st.sampled_from("abcdefgh"), windows),
    new=st.dictionaries(st.sampled_from("abcdefgh"), told),  # (a filter threw half away)
)
def test_changes_finds_exactly_the_moved_and_the_never_promised(
    old: dict[str, Window], new: dict[str, Window]
) -> None:
    """First promises: in both, never told a window; moved: in both, told one whose earliest
    or latest date differs now."""
    first, moved = changes(promises(new), promises(old))
    both = sorted(set(old) & set(new))
    assert sorted(first.items()) == [(i, new[i]) for i in both if old[i] == NO_WINDOW]
    want = [
        WindowChange(i, old[i], new[i])
        for i in both
        if old[i] != NO_WINDOW
        and (old[i].earliest, old[i].latest) != (new[i].earliest, new[i].latest)
    ]
    assert sorted(moved, key=lambda c: c.order_id) == want


def mc(earliest: int, likely: int, latest: int, q: int = 1) -> Window:
    return Window(day(0), day(earliest), day(latest), q, day(likely), MONTE_CARLO)


@pytest.mark.parametrize(
    ("told", "new", "moved"),
    [
        ((10, 14, 20), (10, 14, 20), False),
        ((10, 14, 20), (13, 20, 23), False),  # likely 6 days later: noise
        ((10, 14, 20), (14, 21, 24), True),  # a week later
        ((10, 14, 20), (3, 7, 13), True),  # a week earlier
        ((10, 14, 20), (10, 14, 22), False),  # 12 days wide instead of 10: under a quarter
        ((10, 14, 20), (10, 14, 23), True),  # 13 instead of 10: a quarter or more
        ((10, 14, 20), (11, 14, 18), True),  # 7 instead of 10
        ((10, 10, 11), (10, 10, 12), False),  # 2 days instead of 1: under the 2-day floor
        ((10, 10, 11), (10, 10, 13), True),
    ],
)
def test_window_moved_by_hand(
    told: tuple[int, int, int], new: tuple[int, int, int], moved: bool
) -> None:
    """A week on the likely date, or a quarter of the width (2 days at least)."""
    got = window_moved(np.array([told]), np.array([new]))
    assert got.tolist() == [moved]


def test_changes_with_monte_carlo_windows_by_hand() -> None:
    """Monte Carlo windows move only past the hysteresis; the first one replacing a plan
    stand-in is stored quietly unless it moved past it too (a week on the likely date, or
    a latest date that widens it by a quarter: nothing told changes silently); a plan
    stand-in never replaces a Monte Carlo window."""
    plan_told = Window(day(0), day(12), day(20), 1)  # likely = earliest = day 12
    old = {
        "noise": mc(10, 14, 20),
        "drift": mc(10, 14, 20),
        "switch-quiet": plan_told,
        "switch-moved": plan_told,
        "switch-later": plan_told,
        "back-to-plan": mc(10, 14, 20),
    }
    new = {
        "noise": mc(11, 15, 21),
        "drift": mc(18, 22, 28),
        "switch-quiet": mc(11, 15, 19),
        "switch-moved": mc(16, 19, 25),
        "switch-later": mc(11, 14, 30),  # likely 2 days on, but the latest 10 days later
        "back-to-plan": Window(day(0), day(30), day(33), 1),
    }
    quiet, moved = changes(promises(new), promises(old))
    assert quiet.items() == [("switch-quiet", new["switch-quiet"])]
    assert moved == [
        WindowChange("drift", old["drift"], new["drift"]),
        WindowChange("switch-moved", plan_told, new["switch-moved"]),
        WindowChange("switch-later", plan_told, new["switch-later"]),
    ]


def test_queue_spread_gives_the_window_of_the_orders_around() -> None:
    """Per model and market, the stretch of the queue holding the position gives offsets
    from the planned date; past the last stretch, the last one; nothing alike, None."""
    spread = QueueSpread({("A", "S", "CN"): ([20, 40], [(-2, 1, 6, 0.84), (-4, 2, 12, 0.81)])})
    planned = day(50)  # 30 days ahead of day 20: the second stretch
    assert spread.window("A", "S", "CN", day(43), planned, 150, day(20)) == Window(
        day(43), day(46), day(62), 150, day(52), NEARBY, 0.81
    )
    assert spread.window("A", "S", "CN", day(43), planned, 100, day(30)) == Window(
        day(43), day(48), day(56), 100, day(51), NEARBY, 0.84
    )
    # 80 days ahead, past every simulated order: the last stretch's offsets, doubled
    assert spread.window("A", "S", "CN", day(43), planned, 900, day(-30)) == Window(
        day(43), day(42), day(74), 900, day(54), NEARBY, 0.81
    )
    assert spread.window("A", "S", "DE", day(43), planned, 150, day(20)) is None
    again = QueueSpread.from_json(spread.to_json())
    assert again == spread
    stored_before = [["A", "CN", [100], [[-2, 1, 6]]]]  # an older shape: not read
    assert QueueSpread.from_json(stored_before).table == {}
    # an order taken: the spread's window, else the plan's stand-in
    assert new_order_window(spread, "A", "S", "DE", day(43), planned, LOCKED, 7) == promise_window(
        day(43), planned, LOCKED, 7
    )
    assert new_order_window(None, "A", "S", "CN", day(43), planned, LOCKED, 7) == promise_window(
        day(43), planned, LOCKED, 7
    )
    assert new_order_window(spread, "A", "S", "CN", day(43), planned, LOCKED, 150) == spread.window(
        "A", "S", "CN", day(43), planned, 150, LOCKED
    )


def test_a_new_order_is_never_promised_sooner_than_it_could_come() -> None:
    """Cancellations ahead bring orders forward in the futures, but an order with no
    queue ahead (built the day after its lock) cannot come before its lock allows: a
    spread that would put it there gives the plan's stand-in (a new-user pass found
    'between 4 November and 4 November' for an order built on 30 November). A window of
    one day where it could come is the neighbours' own, with their odds."""
    build, delivery = LOCKED + dt.timedelta(days=1), LOCKED + dt.timedelta(days=8)
    ahead = QueueSpread({("A", "S", "CN"): ([100], [(-32, -32, -32, 0.8)])})
    stand_in = promise_window(build, delivery, LOCKED, 101)
    assert new_order_window(ahead, "A", "S", "CN", build, delivery, LOCKED, 101) == stand_in
    narrow = QueueSpread({("A", "S", "CN"): ([100], [(0, 0, 0, 0.9)])})
    one_day = new_order_window(narrow, "A", "S", "CN", build, delivery, LOCKED, 101)
    assert one_day == Window(build, delivery, delivery, 101, delivery, NEARBY, 0.9)
    fine = QueueSpread({("A", "S", "CN"): ([100], [(-1, 2, 9, 0.8)])})
    got = new_order_window(fine, "A", "S", "CN", build, delivery, LOCKED, 101)
    assert got is not None
    assert got.source == NEARBY  # borrowed, and says so
    assert got.earliest == delivery - dt.timedelta(days=1)  # still no sooner than possible


def test_queue_spread_pools_the_stretch_as_a_reference_would(
    tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """Each stretch's window: the shortest run holding the conformal rank of 40 futures
    (33 + 1 of them: 85 %) of its orders' simulated delivery days less their planned
    ones, pooled (each order weighs the same), stating what it holds times 40 / 41;
    computed here order by order in plain Python."""
    from promiseline.core.futures.calibration import shortest_runs
    from promiseline.core.futures.simulate import simulate

    noisy = tiny.replace(uncertainty={"uptime": {"mean": 0.8, "sd": 0.2}})
    sim = simulate(noisy, validate_orders(tiny_orders, noisy), futures=40, seed=5)
    spread = QueueSpread.of(sim)
    t = sim.base.table
    total = sim.totals.hist.sum(axis=1)
    rows = [
        i
        for i in range(t.height)
        if t["status"][i] == "planned" and t["delivery_date"][i] is not None and total[i] > 0
    ]
    now = sim.base.scenario.now
    by_key: dict[tuple[str, str, str], list[int]] = {}
    for i in rows:
        by_key.setdefault((t["model"][i], t["variant"][i], t["market"][i]), []).append(i)
    assert set(spread.table) == set(by_key)
    for key, members in by_key.items():
        ahead = {i: (t["delivery_date"][i] - now).days for i in members}
        ranked = sorted(members, key=lambda i: (ahead[i], i))
        stretch = {i: (k + 1) * 50 // (len(members) + 1) for k, i in enumerate(ranked)}
        ups, offs = spread.table[key]
        for n, s in enumerate(sorted(set(stretch.values()))):
            group = [i for i in members if stretch[i] == s]
            pooled: dict[int, float] = {}
            for i in group:
                fc = sim.forecast(np.array([i]))
                w = fc.weights[0] / fc.weights[0].sum()
                plan_day = (t["delivery_date"][i] - noisy.start).days
                for off, m in zip(fc.offsets[:-1], w[:-1], strict=True):  # last: not built
                    if m:
                        d = int(fc.base[0] + off - plan_day)
                        pooled[d] = pooled.get(d, 0.0) + m / len(group)
            days = np.array(sorted(pooled))
            mass = np.array([pooled[d] for d in days])
            lo, hi, held = shortest_runs(mass[None, :], days, 34 / 40)
            assert ups[n] == max(ahead[i] for i in group)
            e, _, la, p = offs[n]
            assert (e, la) == (days[lo[0]], days[hi[0]])
            assert p == pytest.approx(1.0 if held[0] > 1 - 1e-9 else held[0] * 40 / 41)


def test_a_pooled_stretch_holds_the_rank_of_its_futures() -> None:
    """However many orders a stretch pools, it is as many draws as there are futures:
    the conformal rank of that many (plus SPARE), at most all of them."""
    from promiseline.core.futures.promises import pooled_target

    assert pooled_target(20) == pytest.approx(18 / 20)
    assert pooled_target(40) == pytest.approx(34 / 40)
    assert pooled_target(200) == pytest.approx(162 / 200)
    assert pooled_target(3) == 1.0
    assert pooled_target(0) == 1.0


def test_recalibrated_windows_by_hand() -> None:
    """Margins of the 0-3 weeks bucket (late 9/13, early -4/13, likely +0.5 of the scale)
    told on 2-1 for a model window likely 2-14 (13 days ahead, a scale of 14): latest 2-20
    + rint(9/13 * 14) = 3-2, earliest 2-10 + rint(4/13 * 14) = 2-14, likely 2-14 + 7;
    the odds are those the margins held; the model's window is kept beside it. A plan
    stand-in and a window in a bucket without margins stay as they are."""
    n = len(WEEK_BUCKETS)
    z = np.zeros(n)
    lo, hi, mid, odds = z.copy(), z.copy(), z.copy(), z.copy()
    lo[0], hi[0], mid[0], odds[0] = -4 / 13, 9 / 13, 0.5, 0.93
    ready = np.zeros(n, dtype=bool)
    ready[0] = True
    m = Margins(lo, hi, mid, odds, np.full(n, 100), ready, 0.8, np.zeros((n, 3)), np.full(n, -1))
    day = dt.date
    w = Window(
        day(2026, 2, 1), day(2026, 2, 10), day(2026, 2, 20), 7, day(2026, 2, 14), MONTE_CARLO, 0.81
    )
    far = replace(w, earliest=day(2026, 6, 1), likely=day(2026, 6, 5), latest=day(2026, 6, 9))
    plan = Window(day(2026, 2, 1), day(2026, 2, 10), day(2026, 2, 13), 8)
    got = recalibrated_window(w, m, day(2026, 2, 1))
    assert got == Window(
        day(2026, 2, 1),
        day(2026, 2, 14),
        day(2026, 3, 2),
        7,
        day(2026, 2, 21),
        MONTE_CARLO,
        0.93,
        ModelWindow(w.earliest, w.likely, w.latest),  # type: ignore[arg-type]
    )
    assert got is not None
    assert got.to_json()["model"] == {
        "earliest": "2026-02-10",
        "likely": "2026-02-14",
        "latest": "2026-02-20",
    }
    assert recalibrated_window(far, m, day(2026, 2, 1)) == far
    assert recalibrated_window(plan, m, day(2026, 2, 1)) == plan
    # the whole-book path tells the same, and changes() carries the model into events
    many = Promises.of(
        ["a", "b", "c"],
        *zip(
            *[
                (
                    x.build_date,
                    x.earliest,
                    x.latest,
                    x.queue_position,
                    x.likely,
                    x.source,
                    x.probability,
                )
                for x in (w, far, plan)
            ],
            strict=True,
        ),
    )
    told = dict(recalibrated(many, m, day(2026, 2, 1)).items())
    assert told == {"a": got, "b": far, "c": plan}


def _spread(mids: list[int], width: int) -> QueueSpread:
    ups = [10 * (i + 1) for i in range(len(mids))]
    offs = [(m - width, m, m + width, 0.8) for m in mids]
    return QueueSpread({("M", "v", "k"): (ups, offs)})


def test_a_new_order_past_the_queue_continues_its_trend() -> None:
    """Found on a world of our own: at the back of a long queue that cancels, the futures
    run ahead of the plan faster than in proportion to the days ahead (here the likely
    offset falls with the square of them); scaled in proportion, the windows told at lock
    fell late (22 % of deliveries before them, stating 83 %). Past the queue, a new order
    continues the last stretches' trend, at least as wide as the last stretch scaled."""
    today = dt.date(2026, 1, 1)
    mids = [-((10 * (i + 1)) ** 2) // 1000 for i in range(30)]  # -0 .. -90 days at 300
    w = _spread(mids, 3).window("M", "v", "k", today, today + dt.timedelta(days=400), 1, today)
    assert w is not None
    assert w.likely is not None
    assert w.earliest is not None
    assert w.latest is not None
    likely = (w.likely - today).days - 400
    assert -160 < likely < -90 * 400 / 300  # the trend's (-160 exact), not in proportion
    assert (w.latest - w.earliest).days >= 6 * 400 / 300


def test_a_queue_in_proportion_is_continued_in_proportion() -> None:
    today = dt.date(2026, 1, 1)
    mids = [-(i + 1) for i in range(30)]  # one day per ten days ahead
    w = _spread(mids, 2).window("M", "v", "k", today, today + dt.timedelta(days=600), 1, today)
    assert w is not None
    assert w.likely is not None
    assert (w.likely - today).days - 600 == -60


def test_a_step_at_the_back_of_the_queue_is_not_continued() -> None:
    """Found on the demo's launch day: the YU7 Max orders planned just before a supply step
    came 13 days after the plan in the futures, those just after 70; the trend of that
    step, continued for 43 days, told a window from 13 to 199 days after the plan, likely
    169 (the delivery came 43 after). Past a step the window spans the last stretches'
    windows, scaled in proportion, around their median."""
    today = dt.date(2026, 1, 1)
    ups = [195, 199, 201, 205, 207, 209, 213, 215, 217, 221, 223, 230]
    mids = [13, 13, 13, 13, 11, 12, 11, 10, 16, 64, 70, 71]
    offs = [(m - 7, m, m + 8, 0.8) for m in mids]
    spread = QueueSpread({("M", "v", "k"): (ups, offs)})
    w = spread.window("M", "v", "k", today, today + dt.timedelta(days=273), 1, today)
    assert w is not None
    assert w.likely is not None
    assert w.earliest is not None
    assert w.latest is not None
    k = 273 / 230
    assert (w.likely - today).days - 273 == round(np.median(mids[-10:]) * k)
    assert (w.earliest - today).days - 273 == math.floor(min(mids[-10:]) * k - 7 * k)
    assert (w.latest - today).days - 273 == math.ceil(max(mids[-10:]) * k + 8 * k)


def test_the_service_tells_the_windows_the_backtest_scores(
    tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """A line at 30 % (sd 20 %) on a 60-day horizon: some orders most futures do not build
    in it, some none does. The service's Monte Carlo windows are `told_windows`' for every
    order some future builds (the backtest's code path), its likely day the window's last
    where most futures do not build it (their median is no day); an order no future
    builds keeps the plan's stand-in (no window in `Simulation.orders`)."""
    s = tiny.replace(uncertainty={"uptime": {"mean": 0.3, "sd": 0.2}})
    sim = simulate(s, validate_orders(tiny_orders, s), futures=20, seed=3)
    o = sim.orders()
    planned = (sim.base.table["status"] == "planned").to_numpy()
    unbuilt = o["p_unbuilt"].to_numpy()
    mostly, never = planned & (unbuilt > 0.5) & (unbuilt < 1), planned & (unbuilt == 1)
    assert mostly.any()
    assert never.any()
    told = simulated_windows(sim).frame
    ids = set(told["order_id"])
    assert ids == set(sim.base.table["order_id"].filter(pl.Series(planned & ~never)))
    none = o.filter(pl.Series(never))
    assert none["window_latest"].is_null().all()
    assert none["window_probability"].is_null().all()  # null, not NaN: no window
    rows = np.flatnonzero(planned & ~never)
    e, likely, la, odds = told_windows(sim.forecast(rows))
    start = np.datetime64(s.start, "D")
    want = pl.DataFrame(
        {
            "order_id": sim.base.table["order_id"].gather(rows),
            "earliest": start + e,
            "likely": start + likely,
            "latest": start + la,
            "probability": odds,
        }
    ).with_columns(pl.col("earliest", "likely", "latest").cast(pl.Date))
    got = told.select(want.columns).sort("order_id")
    assert got.equals(want.sort("order_id"))
    late = got.filter(pl.col("order_id").is_in(o.filter(pl.Series(mostly))["order_id"].implode()))
    assert late.height == int(mostly.sum())
    assert (late["likely"] == late["latest"]).all()
