"""Scores from a deployment's history, proven on a small history computed by hand."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import polars as pl
import pytest

from promiseline.core.futures.calibration import pit_bins, weighted_interval_score
from promiseline.core.futures.history import EVENT_COLUMNS, WINDOW_COLUMNS, score_history
from promiseline.core.model.window import MONTE_CARLO, NEARBY, PLAN
from tests.conftest import SCORINGRULES


def d(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, 0)


def window(
    e: dt.date, likely: dt.date, la: dt.date, source: str, p: float | None = None
) -> dict[str, Any]:
    w = {"earliest": str(e), "likely": str(likely), "latest": str(la), "source": source}
    return w | ({"probability": p} if p is not None else {})


PLAN_A = window(d(2, 3), d(2, 3), d(2, 9), PLAN)
MC_A = window(d(2, 5), d(2, 10), d(2, 20), MONTE_CARLO)  # told before windows stated odds
MC_B = window(d(2, 1), d(2, 4), d(2, 8), MONTE_CARLO, 0.85)
MC_C = window(d(3, 1), d(3, 5), d(3, 9), MONTE_CARLO, 0.9)
NEAR_D = window(d(2, 1), d(2, 4), d(2, 8), NEARBY, 0.7)
MC_F = window(d(3, 20), d(3, 25), d(3, 31), MONTE_CARLO, 0.9)
MC_G = window(d(1, 20), d(1, 25), d(2, 1), MONTE_CARLO, 0.8)
MC_H = window(d(2, 10), d(2, 15), d(2, 20), MONTE_CARLO)
MC_H2 = window(d(3, 12), d(3, 16), d(3, 22), MONTE_CARLO, 0.85)


def history() -> tuple[pl.DataFrame, pl.DataFrame]:
    """As of 3-10 (the newest event). A: created locked with a plan window, moved once to
    a Monte Carlo one, delivered late for the first; B: reserved (a quote is no promise),
    locked with a Monte Carlo window, delivered on its likely day; C: imported, told
    quietly, delivered after its window; D: told a window borrowed from the orders around
    it, locked, not delivered 30 days after it (censored); E: delivered, never promised;
    F: scheduled, its window still open (not scored); G: cancelled (not read); H: built,
    not delivered 18 days after its first window, moved to a window still open."""
    ev: list[tuple[str, str, dt.datetime, dict[str, Any]]] = [
        ("A", "created", at(1, 1), {"status": "locked", "window": PLAN_A}),
        ("B", "created", at(1, 1), {"status": "reserved", "window": MC_C}),
        ("C", "created", at(1, 1), {"status": "locked", "source": "import"}),
        ("D", "created", at(1, 1), {"status": "locked", "window": NEAR_D}),
        ("E", "created", at(1, 1), {"status": "locked"}),
        ("G", "created", at(1, 1), {"status": "locked", "window": MC_G}),
        ("B", "locked", at(1, 2), {"window": MC_B}),
        ("H", "created", at(1, 5), {"status": "locked", "window": MC_H}),
        ("A", "eta_changed", at(1, 20), {"from": PLAN_A, "to": MC_A}),
        ("F", "created", at(2, 1), {"status": "locked", "window": MC_F}),
        ("B", "delivered", at(2, 4), {"status": "delivered"}),
        ("A", "delivered", at(2, 12), {"status": "delivered"}),
        ("A", "eta_changed", at(2, 13), {"from": MC_A, "to": MC_C}),  # after: not counted
        ("H", "eta_changed", at(2, 25), {"from": MC_H, "to": MC_H2}),
        ("C", "delivered", at(3, 10), {"status": "delivered"}),
        ("E", "delivered", at(3, 10), {"status": "delivered"}),
    ]
    events = pl.DataFrame(
        [(o, k, t, json.dumps(x)) for o, k, t, x in ev], schema=list(EVENT_COLUMNS), orient="row"
    )
    now = {
        "A": (MC_A, "delivered"),
        "B": (MC_B, "delivered"),
        "C": (MC_C, "delivered"),
        "D": (NEAR_D, "locked"),
        "F": (MC_F, "scheduled"),
        "G": (MC_G, "cancelled"),
        "H": (MC_H2, "built"),
    }
    windows = pl.DataFrame(
        [
            (
                o,
                *(dt.date.fromisoformat(w[k]) for k in ("earliest", "likely", "latest")),
                w["source"],
                w.get("probability"),
                status,
            )
            for o, (w, status) in now.items()
        ]
        + [("E", None, None, None, PLAN, None, "delivered")],
        schema=list(WINDOW_COLUMNS),
        orient="row",
    )
    return events, windows


def test_scores_of_a_history_computed_by_hand() -> None:
    j = score_history(*history(), database="hand").to_json()
    assert (j["as_of"], j["last_delivery"]) == ("2026-03-10", "2026-03-10")
    assert (j["orders_delivered"], j["orders_scored"]) == (4, 5)
    assert (j["orders_censored"], j["orders_open"]) == (2, 1)  # D and H; F
    assert j["first_promise_sources"] == {MONTE_CARLO: 3, NEARBY: 1, PLAN: 1}
    # first promises: A [2-3, 2-3, 2-9] came 2-12; B [2-1, 2-4, 2-8] came 2-4;
    # C [3-1, 3-5, 3-9] came 3-10; D [2-1, 2-4, 2-8] and H [2-10, 2-15, 2-20] not by
    # 3-10: late, scored as if delivered 3-10 (a lower bound). Latest: A [2-5, 2-10,
    # 2-20], B, C and D as first; H's [3-12, 3-16, 3-22] is still open: not scored.
    assert j["coverage_p10_p90"] == 0.2
    assert j["coverage_latest"] == 0.5
    assert (j["on_time_first_promise"], j["on_time_latest_promise"]) == (0.2, 0.25)
    assert j["mean_abs_error_days_first"] == round((9 + 0 + 5 + 34 + 23) / 5, 2)
    assert j["mean_abs_error_days_latest"] == round((2 + 0 + 5 + 34) / 4, 2)
    assert j["p95_lateness_days"] == 31.8  # of 0, 5, 9, 23, 34
    assert j["churn_per_order"] == 0.4
    assert j["crps_days"] is None
    assert j["pit_histogram"] is None
    # stated: B 0.85, C 0.9 (the window it holds), D 0.7, H 0.8 (told before odds were)
    assert j["stated_p10_p90"] == round((0.85 + 0.9 + 0.7 + 0.8) / 4, 4)
    mc = j["monte_carlo_first_promises"]
    assert (mc["orders"], mc["coverage_p10_p90"], mc["stated"]) == (4, 0.25, 0.8125)
    # WIS = (|y - m| / 2 + 0.1 * IS) / 1.5; B: IS 7; C: 8 + 10 * 1; D: 7 + 10 * 30;
    # H: 10 + 10 * 18
    wis = [0.7, 2.5 + 1.8, 17 + 30.7, 11.5 + 19]
    assert mc["wis_days"] == round(sum(wis) / 1.5 / 4, 2)
    assert list(mc["pit_bins"].values()) == [0.0, 0.25, 0.0, 0.75]
    assert j["verdict"] == (
        "windows too narrow: 25% of deliveries inside 81% windows (75% after the window, "
        "0% before it); furthest off: 8-12 weeks ahead, 0% inside windows stating 90% "
        "(1 promises)"
    )
    weeks = {r["weeks"]: r for r in j["by_weeks_ahead"] if r["promises"]}
    # by weeks from telling to the likely day told (not to what came: a late miss would
    # leave its bucket): A's move on 1-20 to 2-10 (3 weeks), A's first on 1-1 to 2-3, B's
    # on 1-2 to 2-4, D's on 1-1 to 2-4 and H's on 1-5 to 2-15 (4-5 weeks), C's on its
    # import 1-1 to 3-5 (9 weeks); H's move on 2-25 and F's on 2-1 are open
    assert {k: r["promises"] for k, r in weeks.items()} == {"0-3": 1, "4-7": 4, "8-12": 1}
    assert weeks["0-3"] == {
        "weeks": "0-3",
        "promises": 1,
        "coverage": 1.0,
        "stated": 0.8,
        "mean_width_days": 15.0,
        "interval_score": 15.0,
        "baseline_width_days": 0.0,  # one error of the likely date, 2 days: no spread
        "baseline_interval_score": 0.0,
        "coverage_model": None,  # the store keeps what was told, not the model behind it
        "stated_model": None,
        "coverage_p10_p90": 1.0,
        "on_time": 0.0,
        "mean_abs_error_days": 2.0,
        "crps_days": None,
        "censored": 0,
        "monte_carlo": 1,
        "wis_days": round((1 + 1.5) / 1.5, 2),
    }
    mid = weeks["4-7"]  # A (plan: no odds), B inside; D and H late, censored
    assert (mid["coverage"], mid["stated"], mid["censored"]) == (0.25, round(2.35 / 3, 4), 2)
    assert mid["monte_carlo"] == 3
    assert mid["mean_width_days"] == (6 + 7 + 7 + 10) / 4
    assert mid["interval_score"] == (6 + 10 * 3 + 7 + 307 + 190) / 4
    assert mid["mean_abs_error_days"] == (9 + 0 + 34 + 23) / 4
    assert mid["wis_days"] == round((wis[0] + wis[2] + wis[3]) / 1.5 / 3, 2)  # B, D, H
    late = weeks["8-12"]  # C: [3-1, 3-9], came 3-10
    assert (late["coverage"], late["stated"], late["interval_score"]) == (0.0, 0.9, 18.0)
    # by the 4-week period told in, from the first promise (1-1)
    told = j["by_told_weeks"]
    assert [(r["weeks"], r["told_from"]) for r in told] == [
        ("0-3", "2026-01-01"),
        ("4-7", "2026-01-29"),
    ]
    assert [(r["promises"], r["censored"], r["open"]) for r in told] == [(6, 2, 0), (0, 0, 2)]
    assert told[0]["coverage"] == round(2 / 6, 4)
    assert told[0]["stated"] == round((0.8 + 0.85 + 0.9 + 0.7 + 0.8) / 5, 4)
    assert told[1]["coverage"] is None


def test_scored_as_of_a_moment_given() -> None:
    """`now` before the newest event: what came after has not happened yet. As of 2-10,
    B is delivered; A (its plan window closed on 2-9) and D are late; C, E, F, H open."""
    h = score_history(*history(), now=d(2, 10))
    j = h.to_json()
    assert (j["as_of"], j["last_delivery"]) == ("2026-02-10", "2026-02-04")
    assert (j["orders_delivered"], j["orders_scored"]) == (1, 3)
    assert (j["orders_censored"], j["orders_open"]) == (2, 4)
    assert h.orders["order_id"].to_list() == ["A", "B", "D"]
    assert h.orders["censored"].to_list() == [True, False, True]
    assert j["coverage_p10_p90"] == round(1 / 3, 4)
    assert j["coverage_latest"] == 0.5  # A's latest [2-5, 2-20] is still open: B and D
    assert j["churn_per_order"] == round(1 / 3, 3)  # A's move on 1-20
    moment = dt.datetime(2026, 2, 4, 9, 0)  # a moment: B's delivery at 10:00 is after it
    assert score_history(*history(), now=moment).to_json()["orders_delivered"] == 0


def test_nothing_scored_is_nothing_to_judge() -> None:
    events, windows = history()
    early = score_history(events, windows, now=d(1, 10)).to_json()
    assert (early["orders_scored"], early["coverage_p10_p90"]) == (0, None)
    assert (early["orders_open"], early["stated_p10_p90"]) == (6, None)
    assert early["verdict"].startswith("nothing to judge yet: no order was both")
    empty = score_history(events.clear(), windows.clear()).to_json()
    assert (empty["orders_delivered"], empty["as_of"], empty["by_told_weeks"]) == (0, None, [])


def test_plan_windows_alone_state_no_odds() -> None:
    events, windows = history()
    a = pl.col("order_id") == "A"
    only_a = score_history(events.filter(a), windows.filter(a))
    j = only_a.to_json()
    assert j["first_promise_sources"] == {PLAN: 1}
    assert j["stated_p10_p90"] is None
    assert "plan windows state no odds" in only_a.verdict()
    assert only_a.churn_counts() == [0, 1]


@pytest.mark.parametrize(
    ("told", "stated"),
    [
        ({"source": MONTE_CARLO, "probability": 0.9}, 0.9),
        ({"source": MONTE_CARLO}, 0.8),  # told before windows stated odds
        ({"source": MONTE_CARLO, "probability": None, "confidence": 0.8}, 0.8),
        ({"source": NEARBY, "probability": 0.65}, 0.65),  # borrowed odds are odds
        ({"source": NEARBY}, 0.8),
        ({"source": PLAN, "probability": None}, None),
        ({"source": PLAN, "probability": 0.9}, None),  # a plan stand-in states none
        ({}, None),  # before windows had a source: the plan's
    ],
)
def test_the_odds_a_window_stated(told: dict[str, Any], stated: float | None) -> None:
    w = {"earliest": "2026-02-01", "likely": "2026-02-03", "latest": "2026-02-09"} | told
    events = pl.DataFrame(
        [
            ("A", "created", at(1, 1), json.dumps({"status": "locked", "window": w})),
            ("A", "delivered", at(2, 3), json.dumps({"status": "delivered"})),
        ],
        schema=list(EVENT_COLUMNS),
        orient="row",
    )
    windows = pl.DataFrame({"order_id": ["A"], "status": ["delivered"]})
    for k in ("earliest", "likely", "latest"):
        windows = windows.with_columns(pl.lit(dt.date(2026, 2, 1)).alias(k))
    j = score_history(events, windows.with_columns(source=pl.lit(PLAN))).to_json()
    assert j["stated_p10_p90"] == stated
    assert j["monte_carlo_first_promises"]["orders"] == (stated is not None)
    (row,) = (r for r in j["by_weeks_ahead"] if r["promises"])
    assert (row["weeks"], row["stated"]) == ("4-7", stated)


@pytest.mark.parametrize(
    ("y", "window", "expected"),
    [
        (4, (1, 4, 8), 0.1 * 7 / 1.5),  # inside: the width only
        (10, (1, 5, 9), (0.5 * 5 + 0.1 * (8 + 10 * 1)) / 1.5),  # after
        (0, (1, 5, 9), (0.5 * 5 + 0.1 * (8 + 10 * 1)) / 1.5),  # before, as far
        (5, (5, 5, 5), 0.0),  # a sure and right window
    ],
)
def test_weighted_interval_score_by_hand(y: int, window: tuple[int, ...], expected: float) -> None:
    got = weighted_interval_score(np.array([y]), np.array([window]))
    assert got[0] == pytest.approx(expected)


def test_pit_bins_put_ties_inside() -> None:
    w = np.array([[1, 5, 9]] * 6)
    y = np.array([0, 1, 5, 6, 9, 10])
    assert pit_bins(y, w) == pytest.approx([1 / 6, 2 / 6, 2 / 6, 1 / 6])
    assert pit_bins(y[:0], w[:0]) == [0.0] * 4


@SCORINGRULES
def test_weighted_interval_score_matches_scoringrules() -> None:
    """Against scoringrules' numba kernel (its numpy backend adds the median itself)."""
    import scoringrules as sr

    rng = np.random.default_rng(3)
    w = np.sort(rng.integers(0, 200, size=(500, 3)), axis=1)
    y = rng.integers(-20, 220, size=500)
    ref = sr.weighted_interval_score(
        y.astype(float), w[:, 1].astype(float), w[:, :1], w[:, 2:], np.array([0.2])
    )
    np.testing.assert_allclose(weighted_interval_score(y, w), ref, rtol=1e-12)


def test_windows_told_before_likely_dates_read_as_plan_windows() -> None:
    """Events from before windows had a likely date and a source (schema v2)."""
    old = {"earliest": "2026-02-03", "latest": "2026-02-09"}
    events = pl.DataFrame(
        [
            ("A", "created", at(1, 1), json.dumps({"status": "locked", "window": old})),
            ("A", "delivered", at(2, 3), json.dumps({"status": "delivered"})),
        ],
        schema=list(EVENT_COLUMNS),
        orient="row",
    )
    windows = pl.DataFrame(  # nor a probability or a status: delivered, stating none
        [("A", d(2, 3), d(2, 3), d(2, 9), PLAN)], schema=list(WINDOW_COLUMNS[:5]), orient="row"
    )
    j = score_history(events, windows).to_json()
    assert j["first_promise_sources"] == {PLAN: 1}
    assert (j["on_time_first_promise"], j["mean_abs_error_days_first"]) == (1.0, 0.0)


def late_history(n: int, told_wider: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`n` orders locked on 1-5 with the model's window 1-15..1-19 (likely 1-17: 12 days
    ahead), delivered 0 to 9 days after its latest day; with `told_wider`, what they
    were told was a window already recalibrated to 2-28 (the model's beside it)."""
    model = window(d(1, 15), d(1, 17), d(1, 19), MONTE_CARLO, 0.8)
    told = window(d(1, 15), d(1, 17), d(2, 28), MONTE_CARLO, 0.9) | {
        "model": {k: model[k] for k in ("earliest", "likely", "latest")}
    }
    shown = told if told_wider else model
    ev: list[tuple[str, str, dt.datetime, str]] = []
    for i in range(n):
        oid = f"o{i:03d}"
        came = dt.datetime.combine(d(1, 19) + dt.timedelta(days=i % 10), dt.time(10))
        ev += [(oid, "created", at(1, 5), json.dumps({"status": "locked", "window": shown}))]
        ev += [(oid, "delivered", came, json.dumps({"status": "delivered"}))]
    events = pl.DataFrame(ev, schema=list(EVENT_COLUMNS), orient="row").sort("at")
    dates = (d(1, 15), d(1, 17), d(1, 19))
    windows = pl.DataFrame(
        [(f"o{i:03d}", *dates, MONTE_CARLO, 0.8, "delivered") for i in range(n)],
        schema=list(WINDOW_COLUMNS),
        orient="row",
    )
    return events, windows


@pytest.mark.parametrize("told_wider", [False, True])
def test_margins_learn_from_the_model_windows(told_wider: bool) -> None:
    """Deliveries 0-9 days after the model's latest day, 13 days' scale (12 ahead + 1):
    the late margin is the conformal 90 % quantile of (0..9)/13, ten each: the 91st of
    100, 9/13; the early one, (-4..-13)/13, would narrow (-4/13) and stays 0: margins
    only widen (recalibrate.py). Learned from the model's window
    even when the window told was already wider (else it would chase itself: every
    delivery inside the told window, a negative margin). The buckets further ahead, with
    no closed window, borrow the same in days: 9 days later, the likely day 6.5."""
    events, windows = late_history(100, told_wider)
    m = score_history(events, windows, d(3, 1)).margins()
    assert m.ready.all()
    assert (m.lent == [-1, 0, 0, 0, 0, 0, 0]).all()
    assert m.days[1:] == pytest.approx(np.tile([0.0, 9.0, 6.5], (6, 1)))
    assert int(m.outcomes[0]) == 100
    assert m.hi[0] == pytest.approx(9 / 13)
    assert m.lo[0] == 0.0
    assert m.mid[0] == pytest.approx(np.median([(2 + i % 10) / 13 for i in range(100)]))
    assert m.odds[0] == 1.0  # every one of them inside the margins, in whole days


def test_too_few_outcomes_leave_windows_as_the_model_says() -> None:
    events, windows = late_history(49, told_wider=False)
    assert not score_history(events, windows, d(3, 1)).margins().ready.any()
