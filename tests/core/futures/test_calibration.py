"""Calibration scores, each proven on cases small enough to compute by hand, and the
CRPS against its definition on random discrete distributions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promiseline.core.futures.calibration import (
    SPARE,
    Forecast,
    coverage,
    crps,
    crps_reference,
    honest_runs,
    mean_abs_error,
    on_time,
    p95_lateness,
    pit_histogram,
    randomized_pit,
    score,
    shortest_runs,
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


def test_the_window_states_its_odds_by_hand() -> None:
    """Five equal days: the shortest run holding 80 % is four days, the earlier of the two,
    holding 80 %; with 90 % on day 0 the window is that one day and says 90 %, where the
    P10-P90 window (day 0 to day 0) would claim 80 %."""
    e, likely, la, p = uniform_five().window()
    assert (e[0], likely[0], la[0]) == (100, 102, 103)
    assert p[0] == pytest.approx(0.8)
    skew = Forecast(A([0]), A([0, 10]), A([[9.0, 1.0]]))
    e, likely, la, p = skew.window()
    assert (e[0], la[0], p[0]) == (0, 0, pytest.approx(0.9))
    e, _, la, p = skew.window(0.95)
    assert (e[0], la[0], p[0]) == (0, 10, pytest.approx(1.0))


def _brute(w: np.ndarray, days: np.ndarray, target: float) -> tuple[int, float, int]:
    """Every run of columns: the shortest in days reaching the target, then the most mass,
    then the earliest; (width, mass, first column). If none reaches it: every day."""
    held = [
        (int(days[b] - days[a]), -float(w[a : b + 1].sum()), a)
        for a in range(len(w))
        for b in range(a, len(w))
        if w[a] > 0 and w[b] > 0 and w[a : b + 1].sum() >= target - 1e-12
    ]
    if not held:
        on = np.flatnonzero(w > 0)
        return int(days[on[-1]] - days[on[0]]), float(w.sum()), int(on[0])
    width, neg, a = min(held, key=lambda h: (h[0], round(h[1], 9), h[2]))
    return width, -neg, a


@settings(max_examples=examples(300), deadline=None)
@given(
    weights=st.lists(st.integers(0, 6), min_size=1, max_size=14).filter(lambda w: sum(w) > 0),
    gaps=st.lists(st.integers(1, 5), min_size=14, max_size=14),
    outside=st.integers(0, 6),
    target=st.sampled_from([0.5, 0.8, 0.9, 0.95]),
)
def test_shortest_window_equals_brute_force(
    weights: list[int], gaps: list[int], outside: int, target: float
) -> None:
    """Against every run of days: the same width, mass and first day; some mass may lie on
    no day at all (not built in the horizon), the window then holds less."""
    total = sum(weights) + outside
    w = np.array(weights, dtype=np.float64) / total
    days = np.cumsum(gaps[: len(w)]).astype(np.int64)
    lo, hi, mass = shortest_runs(w[None, :], days, target)
    width, want_mass, first = _brute(w, days, target)
    assert int(days[hi[0]] - days[lo[0]]) == width
    assert mass[0] == pytest.approx(want_mass, abs=1e-9)
    assert lo[0] == first
    assert w[lo[0]] > 0
    assert w[hi[0]] > 0


def _plain_honest(counts: list[int], days: np.ndarray, outside: int, target: float):
    """honest_runs written plainly: the draws as a list, the rule's run found among every
    run of days (`_brute`), and each draw left out in turn, literally."""
    import math

    drawn = [d for d, k in zip(days.tolist(), counts, strict=True) for _ in range(k)]
    n = len(drawn) + outside

    def run(sample: list[int], need: int) -> tuple[int, int]:
        w = np.array([sample.count(d) for d in days.tolist()], dtype=np.float64)
        width, _, a = _brute(w, days, need - 0.5)
        return int(days[a]), int(days[a]) + width

    first, last = run(drawn, math.ceil(target * (n + 1) - 1e-9) + SPARE)
    held = 0
    for i in range(len(drawn)):
        rest = drawn[:i] + drawn[i + 1 :]
        if rest:
            a, b = run(rest, math.ceil(target * n - 1e-9) + SPARE)
            held += a <= drawn[i] <= b
    return first, last, held / n


@settings(max_examples=examples(300), deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=12).filter(lambda c: sum(c) > 0),
    gaps=st.lists(st.integers(1, 5), min_size=12, max_size=12),
    outside=st.integers(0, 3),
    target=st.sampled_from([0.5, 0.8, 0.9]),
)
def test_honest_windows_equal_a_plain_leave_one_out(
    counts: list[int], gaps: list[int], outside: int, target: float
) -> None:
    """The window and its odds (the rule on the others, each draw left out in turn, in
    linear time) equal the rule applied literally to every sample of one draw less; some
    draws may lie on no day (not built in the horizon): never held."""
    days = np.cumsum(gaps[: len(counts)]).astype(np.int64)
    total = np.array([sum(counts) + outside], dtype=np.float64)
    lo, hi, odds = honest_runs(np.array([counts], dtype=np.float64), days, target, total)
    first, last, want = _plain_honest(counts, days, outside, target)
    assert (int(days[lo[0]]), int(days[hi[0]])) == (first, last)
    assert odds[0] == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("draws", [20, 40, 200])
def test_honest_windows_hold_what_they_state(draws: int) -> None:
    """A delivery drawn from the same law as the draws falls inside as often as the odds
    say (3,000 orders, a wide law on whole days: the shortest run holding 80 % of 40
    draws held 73 %): within 2.5 points; the plain window states more than it holds."""
    rng = np.random.default_rng(draws)
    orders, days = 3000, np.arange(-150, 150)
    x = np.clip(np.rint(rng.normal(0, 20, (orders, draws))), -150, 149).astype(np.int64) + 150
    y = np.clip(np.rint(rng.normal(0, 20, orders)), -150, 149).astype(np.int64)
    counts = np.zeros((orders, len(days)))
    np.add.at(counts, (np.repeat(np.arange(orders), draws), x.ravel()), 1.0)
    lo, hi, odds = honest_runs(counts, days, 0.8)
    held = np.mean((y >= days[lo]) & (y <= days[hi]))
    assert held == pytest.approx(odds.mean(), abs=0.025)
    a, b, mass = shortest_runs(counts / draws, days, 0.8)
    plain = np.mean((y >= days[a]) & (y <= days[b]))
    if draws <= 40:
        assert mass.mean() - plain > 0.03  # what the honest odds mend
