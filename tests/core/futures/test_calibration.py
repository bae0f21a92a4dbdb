"""Calibration scores, each proven on cases small enough to compute by hand, and the
CRPS against its definition on random discrete distributions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promiseline.core.futures.calibration import (
    Forecast,
    coverage,
    crps,
    crps_reference,
    mean_abs_error,
    on_time,
    p95_lateness,
    pit_histogram,
    randomized_pit,
    score,
)
from tests.conftest import SCORINGRULES, examples

A = np.array


def uniform_five(base: int = 100) -> Forecast:
    """Delivery equally likely on days base..base+4."""
    return Forecast(A([base]), A([0, 1, 2, 3, 4]), A([[1.0, 1, 1, 1, 1]]))


def test_window_quantiles_by_hand() -> None:
    """P10/P50/P90 of 5 equally likely days 100..104: 100, 102, 104."""
    assert uniform_five().quantiles().tolist() == [[100, 102, 104]]
    skew = Forecast(A([0]), A([0, 10]), A([[9.0, 1.0]]))  # 90 % on day 0
    assert skew.quantiles().tolist() == [[0, 0, 0]]


def test_plain_scores_by_hand() -> None:
    """Coverage, on time, MAE and P95 lateness on four orders."""
    realized = A([10, 12, 15, 30])
    earliest, likely, latest = A([9, 9, 9, 9]), A([11, 11, 11, 11]), A([14, 14, 14, 14])
    assert coverage(realized, earliest, latest) == 0.5  # 10 and 12 inside
    assert on_time(realized, likely) == 0.25  # only 10
    assert mean_abs_error(realized, likely) == (1 + 1 + 4 + 19) / 4
    # lateness 0, 1, 4, 19: numpy's linear P95 = 4 + 0.85 * 15
    assert p95_lateness(realized, likely) == pytest.approx(16.75)


def test_crps_by_hand() -> None:
    """CRPS = E|X - y| - E|X - X'| / 2: for 5 equal days 100..104 and y = 102,
    E|X-y| = 6/5 and E|X-X'| = 40/25, so 1.2 - 0.8 = 0.4; all mass on y gives 0."""
    assert crps(uniform_five(), A([102]))[0] == pytest.approx(0.4)
    point = Forecast(A([7]), A([0]), A([[1.0]]))
    assert crps(point, A([7]))[0] == pytest.approx(0.0)
    assert crps(point, A([10]))[0] == pytest.approx(3.0)  # a point forecast: |x - y|


@SCORINGRULES
@settings(max_examples=examples(100), deadline=None)
@given(
    weights=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
    gaps=st.lists(st.integers(1, 4), min_size=12, max_size=12),
    y=st.integers(-5, 40),
)
def test_crps_equals_its_definition(weights: list[float], gaps: list[int], y: int) -> None:
    """The fast sum over days and scoringrules' estimator both equal
    E|X-y| - E|X-X'|/2 computed directly (forecast days with gaps between them)."""
    w = np.array(weights) / sum(weights)
    days = np.cumsum(gaps[: len(w)]).astype(np.int64) - gaps[0]
    e_xy = float(np.sum(w * np.abs(days - y)))
    e_xx = float(np.sum(w[:, None] * w[None, :] * np.abs(days[:, None] - days[None, :])))
    f = Forecast(A([0]), days, np.array([weights]))
    assert crps(f, A([y]))[0] == pytest.approx(e_xy - e_xx / 2, abs=1e-9)
    assert crps_reference(f, A([y]))[0] == pytest.approx(e_xy - e_xx / 2, abs=1e-9)


def test_randomized_pit_by_hand() -> None:
    """y = 102 on 5 equal days: F(101) = 0.4, F(102) = 0.6, so the PIT lies in [0.4, 0.6];
    before every day it is 0, after every day 1."""
    rng = np.random.default_rng(1)
    f = Forecast(A([100, 100, 100]), A([0, 1, 2, 3, 4]), np.ones((3, 5)))
    pit = randomized_pit(f, A([102, 50, 200]), rng)
    assert 0.4 <= pit[0] <= 0.6
    assert pit[1] == 0.0
    assert pit[2] == 1.0


def test_calibrated_forecasts_have_a_flat_pit_and_nominal_coverage() -> None:
    """Outcomes drawn from the forecasts themselves: PIT histogram flat, P10-P90 coverage
    about 80 % (a whole-day window holds a little more often: its ends are included)."""
    rng = np.random.default_rng(7)
    n, k = 20_000, 30
    weights = rng.gamma(2.0, size=(n, k))
    f = Forecast(rng.integers(0, 500, n), np.arange(k), weights)
    p = weights / weights.sum(axis=1, keepdims=True)
    draws = np.array([rng.choice(k, p=row) for row in p])
    s = score(f, f.base + draws, seed=3)
    assert max(abs(h - 0.1) for h in s.pit_histogram) < 0.01
    assert 0.78 <= s.coverage <= 0.92
    assert s.verdict().startswith("windows honest")


def test_too_narrow_windows_are_named() -> None:
    """Outcomes spread wider than the forecasts: coverage falls and the verdict says so."""
    rng = np.random.default_rng(8)
    n = 5_000
    f = Forecast(np.zeros(n, np.int64), np.arange(5), np.ones((n, 5)))
    s = score(f, rng.integers(-10, 15, n))
    assert s.coverage < 0.3
    assert s.verdict().startswith("windows too narrow")
    flat = pit_histogram(np.array([0.05, 0.15, 0.95, 1.0]))
    assert flat[0] == flat[1] == 0.25
    assert flat[-1] == 0.5  # 1.0 falls in the last bin


def test_forecast_shapes_are_checked() -> None:
    """Weights that do not match, offsets out of order or empty rows are refused."""
    with pytest.raises(ValueError, match="orders, offsets"):
        Forecast(A([0, 1]), A([0, 1]), np.ones((1, 2)))
    with pytest.raises(ValueError, match="increase"):
        Forecast(A([0]), A([1, 0]), np.ones((1, 2)))
    with pytest.raises(ValueError, match="positive sum"):
        Forecast(A([0]), A([0, 1]), np.zeros((1, 2)))
