"""Sampling one future (uncertainty.py): each draw follows its parameters within sampling
error, and a future is fixed by (seed, future number)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from promiseline.core.futures.sampling import (
    Draw,
    cancel_day,
    sample,
    weekly_hazard,
)
from promiseline.core.model.scenario import Scenario, Uncertainty
from promiseline.core.planning.planner import NEVER_CANCELS


def draw(s: Scenario, future: int, seed: int = 11, orders: int = 0) -> Draw:
    assert s.uncertainty is not None
    return sample(s.uncertainty, s, future, seed, orders, 0, np.zeros(0))


def test_uptime_draws_match_their_parameters(tiny: Scenario) -> None:
    """Sampled daily uptime has the asked mean and sd within sampling error."""
    s = tiny.replace(horizon_days=2000, uncertainty={"uptime": {"mean": 0.9, "sd": 0.05}})
    assert s.uncertainty is not None
    draws = np.concatenate(
        [
            sample(s.uncertainty, s, f, 11, np.zeros(0), 0, np.zeros(0)).uptime.ravel()  # type: ignore[union-attr]
            for f in range(20)
        ]
    )
    n = len(draws)
    assert abs(draws.mean() - 0.9) < 4 * 0.05 / np.sqrt(n)
    assert abs(draws.std() - 0.05) < 0.05 * 4 / np.sqrt(2 * n)
    assert (draws > 0).all()
    assert (draws <= 1).all()


def test_a_line_always_up_draws_no_spread(tiny: Scenario) -> None:
    """Mean 1 leaves a Beta no room to spread: every day is 1, whatever the sd (a Beta
    with those parameters does not exist; drawing it used to fail)."""
    s = tiny.replace(uncertainty={"uptime": {"mean": 1.0, "sd": 0.1}})
    up = draw(s, 0).uptime
    assert up is not None
    assert (up == 1.0).all()


def test_line_uptime_overrides_the_default(tiny: Scenario) -> None:
    """A line with its own uptime uses it (sd 0: exactly its mean); the others the default."""
    plants = tiny.model_dump(by_alias=True)["plants"]
    l1 = plants[0]["lines"][0]
    plants[0]["lines"] = [l1, {**l1, "name": "l2"}]
    s = tiny.replace(
        plants=plants,
        uncertainty={"uptime": {"mean": 0.9, "sd": 0.05}, "line_uptime": {"l2": {"mean": 0.5}}},
    )
    up = draw(s, 0).uptime
    assert up is not None
    assert up.shape == (2, s.horizon_days)
    assert (up[1] == 0.5).all()
    assert abs(up[0].mean() - 0.9) < 4 * 0.05 / np.sqrt(s.horizon_days)
    assert up[0].std() > 0


def test_ramp_slips_are_whole_days_never_negative(tiny: Scenario) -> None:
    """Slips are normal draws rounded to whole days and cut at 0: never negative, with the
    mean of that rectified law within sampling error."""
    mean, sd, n = 1.0, 4.0, 4000
    s = tiny.replace(uncertainty={"ramp_slip": {"mean": mean, "sd": sd}})
    slips = np.concatenate([draw(s, f).ramp_slip for f in range(n)])
    assert slips.dtype == np.int64
    assert slips.min() == 0

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mean) / (sd * math.sqrt(2))))

    ks = np.arange(1, 60)
    prob = np.array([cdf(k + 0.5) - cdf(k - 0.5) for k in ks])
    expected = (ks * prob).sum()
    spread = math.sqrt((ks * ks * prob).sum() - expected**2)
    assert abs(slips.mean() - expected) < 4 * spread / math.sqrt(n)
    assert abs((slips == 0).mean() - cdf(0.5)) < 4 * math.sqrt(cdf(0.5) * (1 - cdf(0.5)) / n)


@pytest.mark.parametrize("at_least", [0, 3, 12, 30])
def test_a_line_known_late_draws_its_slip_given_that(tiny: Scenario, at_least: int) -> None:
    """A per-line slip known to be at least `at_least` days: the inverted-distribution
    draw has the law of rejection sampling (draw the rounded, clipped normal until it is
    at least that), checked bin by bin; without a floor it is the common rectified law."""
    mean, sd, n = 10.0, 8.0, 4000
    spec = {"mean": mean, "sd": sd, "at_least": at_least}
    s = tiny.replace(uncertainty={"line_ramp_slip": {"l1": spec}})
    fast = np.concatenate([draw(s, f).ramp_slip for f in range(n)])  # type: ignore[misc]
    assert fast.min() >= at_least
    rng = np.random.default_rng(5)
    ref = np.zeros(0, dtype=np.int64)
    while len(ref) < n:  # the obviously correct reference: draw, keep what may be
        x = np.maximum(0, np.rint(rng.normal(mean, sd, 1_000_000))).astype(np.int64)
        ref = np.concatenate([ref, x[x >= at_least]])
    ref = ref[:n]
    for k in range(at_least, at_least + 30, 3):
        p_fast, p_slow = (fast < k).mean(), (ref < k).mean()
        tolerance = 4 * math.sqrt(max(p_slow * (1 - p_slow), 1 / n) * 2 / n)
        assert abs(p_fast - p_slow) < tolerance, (k, p_fast, p_slow)


def test_a_line_slip_overrides_the_common_one(tiny: Scenario) -> None:
    """A per-line spread of 0 (a ramp-up that has started) slips nothing, whatever the
    common spread says."""
    s = tiny.replace(uncertainty={"ramp_slip": {"mean": 9, "sd": 0}, "line_ramp_slip": {"l1": {}}})
    assert draw(s, 0).ramp_slip.tolist() == [0]  # type: ignore[union-attr]


def test_ramp_slip_without_spread_is_its_mean(tiny: Scenario) -> None:
    """With sd 0 every line slips its mean, rounded to whole days."""
    s = tiny.replace(uncertainty={"ramp_slip": {"mean": 2.6, "sd": 0}})
    assert draw(s, 0).ramp_slip.tolist() == [3]  # type: ignore[union-attr]


def test_shortfalls_start_at_their_monthly_rate(tiny: Scenario) -> None:
    """Each part is hit in a month with `per_month` chance (binomial error), one
    disruption per hit."""
    futures, months, rate = 300, 12, 0.3
    s = tiny.replace(
        horizon_days=30 * months,
        uncertainty={"shortfalls": [{"per_month": rate, "depth": 1.0, "days": 1}]},
    )
    hits = 0
    for f in range(futures):
        scale = draw(s, f).supply_scale
        assert scale is not None
        assert set(np.unique(scale)) <= {0.0, 1.0}
        hits += int((scale == 0).sum())  # a one-day total cut per hit
    trials = futures * months * len(s.parts)
    assert abs(hits / trials - rate) < 4 * math.sqrt(rate * (1 - rate) / trials)


def test_a_shortfall_cuts_its_part_by_depth_for_its_days(tiny: Scenario) -> None:
    """A shortfall on one part scales its arrivals by 1 - depth for `days` days per hit,
    and leaves the other parts alone."""
    s = tiny.replace(
        horizon_days=360,
        uncertainty={"shortfalls": [{"part": "pack", "per_month": 1.0, "depth": 0.25, "days": 4}]},
    )
    for f in range(20):
        scale = draw(s, f).supply_scale
        assert scale is not None
        pack, lidar = scale
        assert (lidar == 1).all()
        cuts = np.log(pack) / np.log(0.75)  # overlapping hits multiply
        assert np.allclose(cuts, np.rint(cuts))
        # 12 hits of 4 days; only the last month's may run past the horizon (>= 1 day in)
        assert 45 <= round(cuts.sum()) <= 48


def test_weekly_hazard_by_hand() -> None:
    """Hazard = base + per month of wait, capped (none without a model)."""
    u = Uncertainty.model_validate(
        {"cancellation": {"base_weekly": 0.01, "per_month_wait": 0.02, "max_weekly": 0.05}}
    )
    assert weekly_hazard(u, np.array([0.0, 30.0, 90.0])) == pytest.approx([0.01, 0.03, 0.05])
    assert not weekly_hazard(Uncertainty(), np.array([10.0, 400.0])).any()


def test_cancellation_draws_one_of_each_per_order(tiny: Scenario) -> None:
    """One uniform draw per order for the day it would cancel and one for a refund; no
    model, no draws."""
    s = tiny.replace(uncertainty={"cancellation": {}})
    d = draw(s, 3, orders=500)
    assert d.cancel_draw is not None
    assert d.refund_draw is not None
    assert len(d.cancel_draw) == len(d.refund_draw) == 500
    assert ((d.cancel_draw >= 0) & (d.cancel_draw < 1)).all()
    assert not np.array_equal(d.cancel_draw, draw(s, 4, orders=500).cancel_draw)
    none = draw(tiny.replace(uncertainty={}), 0, orders=500)
    assert none.cancel_draw is None
    assert none.refund_draw is None


def test_cancel_days_follow_the_hazard() -> None:
    """An order cancels no earlier than it may; its weeks of waiting before it cancels
    follow the hazard's geometric law, P(T >= t weeks) = (1 - h)^t; without a hazard it
    never cancels."""
    rng = np.random.default_rng(1)
    n = 200_000
    h = np.full(n, 0.1)
    since = np.full(n, 30, dtype=np.int32)
    day = cancel_day(rng.random(n), h, since)
    assert day.min() >= 30
    for t in (1, 2, 5, 10, 20):
        share = ((day - 30) >= 7 * t).mean()
        sd = math.sqrt(0.9**t * (1 - 0.9**t) / n)
        assert abs(share - 0.9**t) < 5 * sd, t
    never = cancel_day(rng.random(5), np.zeros(5), since[:5])
    assert (never == NEVER_CANCELS).all()


def test_inflow_days_and_mix(tiny: Scenario) -> None:
    """New orders arrive from the inflow start, within its days and the horizon, with
    configurations in proportion to their weights."""
    s = tiny.replace(uncertainty={"inflow": {"per_day": 40.0, "days": 50}})
    assert s.uncertainty is not None
    weights = np.array([1.0, 3.0])
    days, configs = [], []
    for f in range(50):
        d = sample(s.uncertainty, s, f, 11, 0, 20, weights)
        days.append(d.inflow_day)
        configs.append(d.inflow_config)
    day, config = np.concatenate(days), np.concatenate(configs)
    assert day.min() >= 20
    assert day.max() < s.horizon_days  # 20 + 50 days would pass the 60-day horizon
    assert set(np.unique(config)) <= {0, 1}
    share = config.mean()
    assert abs(share - 0.75) < 4 * math.sqrt(0.75 * 0.25 / len(config))


def test_a_later_future_draws_the_inflow_of_then(tiny: Scenario) -> None:
    """As of a day after the inflow started, a future draws the orders still to come at
    the decayed rate of then, not a fresh surge from that day."""
    s = tiny.replace(
        horizon_days=200,
        uncertainty={"inflow": {"per_day": 30.0, "half_life_days": 20, "days": 100}},
    )
    later = s.replace(as_of=s.start + dt.timedelta(days=40))
    assert later.uncertainty is not None
    weights = np.ones(1)
    counts, first = [], []
    for f in range(200):
        d = sample(later.uncertainty, later, f, 11, 0, 10, weights).inflow_day
        counts.append(len(d))
        first.append(d.min())
    day = np.arange(40, 110)  # from the plan's day to the inflow's last (10 + 100)
    expected = (30.0 * 0.5 ** ((day - 10) / 20)).sum()
    assert min(first) >= 40
    assert abs(np.mean(counts) - expected) < 4 * math.sqrt(expected / 200)
    fresh = (30.0 * 0.5 ** ((day - 40) / 20)).sum()  # what restarting at now drew
    assert np.mean(counts) < fresh / 2  # 0.5 ** (30 / 20) of it


def test_a_future_is_fixed_by_seed_and_number(tiny: Scenario) -> None:
    """The same (seed, future) draws the same future; another future or seed differs."""
    s = tiny.replace(
        uncertainty={
            "uptime": {"mean": 0.9, "sd": 0.05},
            "ramp_slip": {"mean": 3, "sd": 20},
            "shortfalls": [{"per_month": 0.5, "depth": 0.5, "days": 5}],
            "cancellation": {},
        }
    )
    p = 50
    a, b = draw(s, 7, 1, p), draw(s, 7, 1, p)
    for name in Draw.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.uptime, draw(s, 8, 1, p).uptime)  # type: ignore[arg-type]
    assert not np.array_equal(a.uptime, draw(s, 7, 2, p).uptime)  # type: ignore[arg-type]
