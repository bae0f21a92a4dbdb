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
from promiseline.core.model.window import MONTE_CARLO, PLAN
from tests.conftest import SCORINGRULES


def d(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, 0)


def window(e: dt.date, likely: dt.date, la: dt.date, source: str) -> dict[str, Any]:
    return {"earliest": str(e), "likely": str(likely), "latest": str(la), "source": source}


PLAN_A = window(d(2, 3), d(2, 3), d(2, 9), PLAN)
MC_A = window(d(2, 5), d(2, 10), d(2, 20), MONTE_CARLO)
MC_B = window(d(2, 1), d(2, 4), d(2, 8), MONTE_CARLO)
MC_C = window(d(3, 1), d(3, 5), d(3, 9), MONTE_CARLO)


def history() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A: created locked with a plan window, moved once to a Monte Carlo one, delivered
    late for the first; B: reserved (a quote is no promise), locked with a Monte Carlo
    window, delivered on its likely day; C: imported, told quietly, delivered after its
    window; D: promised, not delivered; E: delivered, never promised."""
    ev: list[tuple[str, str, dt.datetime, dict[str, Any]]] = [
        ("A", "created", at(1, 1), {"status": "locked", "window": PLAN_A}),
        ("B", "created", at(1, 1), {"status": "reserved", "window": MC_C}),
        ("C", "created", at(1, 1), {"status": "locked", "source": "import"}),
        ("D", "created", at(1, 1), {"status": "locked", "window": MC_B}),
        ("E", "created", at(1, 1), {"status": "locked"}),
        ("B", "locked", at(1, 2), {"window": MC_B}),
        ("A", "eta_changed", at(1, 20), {"from": PLAN_A, "to": MC_A}),
        ("B", "delivered", at(2, 4), {"status": "delivered"}),
        ("A", "delivered", at(2, 12), {"status": "delivered"}),
        ("A", "eta_changed", at(2, 13), {"from": MC_A, "to": MC_C}),  # after: not counted
        ("C", "delivered", at(3, 10), {"status": "delivered"}),
        ("E", "delivered", at(3, 10), {"status": "delivered"}),
    ]
    events = pl.DataFrame(
        [(o, k, t, json.dumps(x)) for o, k, t, x in ev], schema=list(EVENT_COLUMNS), orient="row"
    )
    now = {"A": MC_A, "B": MC_B, "C": MC_C, "D": MC_B}
    windows = pl.DataFrame(
        [
            (
                o,
                *(dt.date.fromisoformat(w[k]) for k in ("earliest", "likely", "latest")),
                w["source"],
            )
            for o, w in now.items()
        ]
        + [("E", None, None, None, PLAN)],
        schema=list(WINDOW_COLUMNS),
        orient="row",
    )
    return events, windows


def test_scores_of_a_history_computed_by_hand() -> None:
    j = score_history(*history(), database="hand").to_json()
    assert (j["orders_delivered"], j["orders_scored"]) == (4, 3)
    assert j["first_promise_sources"] == {MONTE_CARLO: 2, PLAN: 1}
    # first promises: A [2-3, 2-3, 2-9] came 2-12; B [2-1, 2-4, 2-8] came 2-4;
    # C [3-1, 3-5, 3-9] came 3-10. Latest: A [2-5, 2-10, 2-20], B and C as first.
    assert j["coverage_p10_p90"] == round(1 / 3, 4)
    assert j["coverage_latest"] == round(2 / 3, 4)
    assert j["on_time_first_promise"] == j["on_time_latest_promise"] == round(1 / 3, 4)
    assert j["mean_abs_error_days_first"] == round((9 + 0 + 5) / 3, 2)
    assert j["mean_abs_error_days_latest"] == round((2 + 0 + 5) / 3, 2)
    assert j["churn_per_order"] == round(1 / 3, 3)
    assert j["crps_days"] is None
    assert j["pit_histogram"] is None
    mc = j["monte_carlo_first_promises"]
    assert (mc["orders"], mc["coverage_p10_p90"]) == (2, 0.5)
    # WIS = (|y - m| / 2 + 0.1 * IS) / 1.5; B: IS 7; C: IS 8 + 10 * 1 = 18
    assert mc["wis_days"] == round((0.7 / 1.5 + (2.5 + 1.8) / 1.5) / 2, 2)
    assert list(mc["pit_bins"].values()) == [0.0, 0.5, 0.0, 0.5]
    assert j["verdict"].startswith("windows too narrow: 50% of deliveries inside 80% windows")
    weeks = {r["weeks"]: r for r in j["by_weeks_ahead"] if r["promises"]}
    # told: A's move on 1-20 (3 weeks ahead), A's first on 1-1 and B's on 1-2 (6 and 4
    # weeks), C's on its import 1-1 (9 weeks)
    assert {k: r["promises"] for k, r in weeks.items()} == {"0-3": 1, "4-7": 2, "8-12": 1}
    assert weeks["0-3"] | {"wis_days": None} == {
        "weeks": "0-3",
        "promises": 1,
        "coverage_p10_p90": 1.0,
        "on_time": 0.0,
        "mean_abs_error_days": 2.0,
        "monte_carlo": 1,
        "wis_days": None,
    }
    assert weeks["0-3"]["wis_days"] == round((1 + 1.5) / 1.5, 2)
    assert (weeks["4-7"]["coverage_p10_p90"], weeks["4-7"]["monte_carlo"]) == (0.5, 1)
    assert weeks["8-12"]["coverage_p10_p90"] == 0.0


def test_nothing_delivered_is_nothing_to_judge() -> None:
    events, windows = history()
    h = score_history(events.filter(pl.col("kind") != "delivered"), windows)
    j = h.to_json()
    assert (j["orders_scored"], j["coverage_p10_p90"]) == (0, None)
    assert j["verdict"].startswith("nothing to judge yet: no order was both")
    empty = score_history(events.clear(), windows.clear()).to_json()
    assert empty["orders_delivered"] == 0


def test_plan_windows_alone_state_no_odds() -> None:
    events, windows = history()
    only_a = score_history(events.filter(pl.col("order_id") == "A"), windows)
    assert only_a.to_json()["first_promise_sources"] == {PLAN: 1}
    assert "plan windows state no odds" in only_a.verdict()
    assert only_a.churn_counts() == [0, 1]


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
    windows = pl.DataFrame(
        [("A", d(2, 3), d(2, 3), d(2, 9), PLAN)], schema=list(WINDOW_COLUMNS), orient="row"
    )
    j = score_history(events, windows).to_json()
    assert j["first_promise_sources"] == {PLAN: 1}
    assert (j["on_time_first_promise"], j["mean_abs_error_days_first"]) == (1.0, 0.0)
