"""Uncertainty that lasts: each day keeps its Beta(mean, sd) law, while the days of a
future move together (a level, spells of memory); slowdowns and outages cut output or
arrivals for their length; and a scenario without them draws exactly as before."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from promiseline.core.futures.lasting import (
    Z_READ,
    beta_shape,
    filtered,
    lasting_uptime,
    latent,
    record_latent,
    spells,
)
from promiseline.core.futures.sampling import sample
from promiseline.core.model.scenario import (
    Scenario,
    Share,
    Slowdown,
    Spread,
    Uncertainty,
    Uptime,
)
from promiseline.errors import ScenarioError
from promiseline.io.scenario_file import scenario_from_dict
from tests.conftest import examples

SPEC = Uptime(mean=0.9, sd=0.05, level_share=0.3, memory_days=20)


def futures(spec: Uptime, n: int = 3000, days: int = 200) -> np.ndarray:
    return np.stack([lasting_uptime(np.random.default_rng([7, i]), spec, days) for i in range(n)])


def test_each_day_is_still_beta_of_the_mean_and_sd() -> None:
    """One day across independent futures is a plain sample of the day's law."""
    day = futures(SPEC)[:, 150]
    a, b = beta_shape(0.9, 0.05)
    assert stats.kstest(day, stats.beta(a, b).cdf).pvalue > 1e-3
    assert day.mean() == pytest.approx(0.9, abs=0.004)
    assert day.std() == pytest.approx(0.05, abs=0.004)


def test_days_move_together_as_stated() -> None:
    """The latent's correlation at lag k is level_share + (1 - level_share) phi^k."""
    z = np.stack([latent(np.random.default_rng([3, i]), SPEC, 120) for i in range(4000)])
    phi = math.exp(-1 / 20)
    for k in (1, 10, 60):
        got = np.corrcoef(z[:, 50], z[:, 50 + k])[0, 1]
        assert got == pytest.approx(0.3 + 0.7 * phi**k, abs=0.04)
    assert z.std() == pytest.approx(1.0, abs=0.02)


def test_a_months_output_varies_far_more_than_with_independent_days() -> None:
    """What the issue asks for: a month's mean uptime spread wide, where independent days
    average out (sd of a 30-day mean: 0.05 / sqrt(30) = 0.009)."""
    lasting = futures(SPEC, n=1000)[:, 100:130].mean(axis=1).std()
    plain = futures(Uptime(mean=0.9, sd=0.05), n=1000)[:, 100:130].mean(axis=1).std()
    assert plain == pytest.approx(0.05 / math.sqrt(30), rel=0.15)
    assert lasting > 3 * plain


def test_spells_cut_for_their_length() -> None:
    rng = np.random.default_rng(1)
    assert (spells(rng, 0.0, Share(mean=0.5), Spread(mean=30), 365) == 1.0).all()
    many = np.stack(
        [
            spells(np.random.default_rng(i), 2.0, Share(mean=0.5), Spread(mean=30), 3650)
            for i in range(50)
        ]
    )
    assert set(np.unique(many).round(6)) <= {1.0, 0.5, 0.25, 0.125, 0.0625}  # overlaps cut twice
    share_cut = (many < 1).mean()  # 2 spells a year of 30 days: about 1 - exp(-60/365)
    assert share_cut == pytest.approx(1 - math.exp(-60 / 365), abs=0.02)


def test_a_scenario_without_them_draws_as_before(tiny: Scenario) -> None:
    """Plain uptime keeps the old Beta draws bit for bit; the new keys change the draw."""
    plain = Uncertainty(uptime=Uptime(mean=0.9, sd=0.05))
    a = sample(plain, tiny, 3, 0, np.zeros(0), 0, np.zeros(0))
    rng = np.random.default_rng([0, 3])
    assert a.uptime is not None
    assert np.array_equal(a.uptime[0], rng.beta(*beta_shape(0.9, 0.05), tiny.horizon_days))
    lasting = plain.model_copy(update={"uptime": SPEC})
    b = sample(lasting, tiny, 3, 0, np.zeros(0), 0, np.zeros(0))
    assert b.uptime is not None
    assert not np.array_equal(a.uptime, b.uptime)
    slow = Uncertainty(
        uptime=plain.uptime,
        slowdowns=(Slowdown(line="l1", per_year=50, depth=Share(mean=0.5), days=Spread(mean=20)),),
    )
    c = sample(slow, tiny, 3, 0, np.zeros(0), 0, np.zeros(0))
    assert c.uptime is not None
    assert (c.uptime <= a.uptime + 1e-12).all()
    assert (c.uptime < a.uptime).any()


def test_unknown_names_in_spells_are_named(tiny: Scenario) -> None:
    data = tiny.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["uncertainty"] = {
        "slowdowns": [{"line": "l9", "per_year": 1, "depth": {"mean": 0.2}, "days": {"mean": 30}}],
        "outages": [{"part": "chip", "per_year": 1, "depth": {"mean": 0.2}, "days": {"mean": 30}}],
    }
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(data, "s.yaml")
    text = "\n".join(e.value.problems)
    assert "uncertainty.slowdowns[0].line: unknown line 'l9'" in text
    assert "uncertainty.outages[0].part: unknown part 'chip'" in text


def test_a_level_of_each_period() -> None:
    """`periods` draws a level of each period (a record of quarters, as fit reads one):
    the level holds within a period and is drawn anew at the next; without it a future
    draws exactly as before."""
    spec = Uptime(mean=0.9, sd=0.05, level_share=0.9, memory_days=0)
    periods = np.repeat(np.arange(3), 100)
    z = np.stack([latent(np.random.default_rng([5, i]), spec, 300, periods) for i in range(2000)])
    same = np.corrcoef(z[:, 10], z[:, 90])[0, 1]
    other = np.corrcoef(z[:, 90], z[:, 110])[0, 1]
    assert same == pytest.approx(0.9, abs=0.03)
    assert other == pytest.approx(0.0, abs=0.05)
    assert z.std() == pytest.approx(1.0, abs=0.02)
    one = latent(np.random.default_rng(9), SPEC, 50)
    again = latent(np.random.default_rng(9), SPEC, 50, None)
    assert np.array_equal(one, again)


@settings(max_examples=examples(100), deadline=None)
@given(
    share=st.floats(0.0, 0.9),
    memory=st.sampled_from([0.0, 1.0, 5.0, 30.0]),
    record=st.lists(st.one_of(st.none(), st.floats(-3, 3)), min_size=1, max_size=25),
    noise=st.floats(1e-3, 0.5),
)
def test_the_record_is_filtered_as_plain_gaussian_conditioning(
    share: float, memory: float, record: list[float | None], noise: float
) -> None:
    """The level and the last AR(1) term given the days read (Kalman's filter) equal the
    normal law conditioned by hand: the joint covariance of the level, every day's AR
    term and every reading, then the textbook formula."""
    spec = Uptime(mean=0.9, sd=0.05, level_share=share, memory_days=memory)
    z = np.array([np.nan if x is None else x for x in record])
    var = np.full(len(z), noise)
    got = filtered(spec, z, var)
    t = len(z)
    phi = math.exp(-1 / memory) if memory else 0.0
    lag = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
    cov = np.zeros((t + 1, t + 1))  # the level, then the AR term of each day
    cov[0, 0] = 1.0
    cov[1:, 1:] = phi**lag
    h = np.zeros((t, t + 1))
    h[:, 0] = math.sqrt(share)
    h[np.arange(t), np.arange(t) + 1] = math.sqrt(1 - share)
    read = np.isfinite(z)
    h, zr = h[read], z[read]
    keep = [0, t]  # the level and the last day's AR term
    if not len(zr):
        assert np.allclose(got.mean, 0)
        assert np.allclose(got.cov, np.eye(2))
        return
    s_zz = h @ cov @ h.T + noise * np.eye(len(zr))
    s_xz = cov[keep] @ h.T
    mean = s_xz @ np.linalg.solve(s_zz, zr)
    post = cov[np.ix_(keep, keep)] - s_xz @ np.linalg.solve(s_zz, s_xz.T)
    assert got.day == t
    assert np.allclose(got.mean, mean, atol=1e-7)
    assert np.allclose(got.cov, post, atol=1e-7)


def test_futures_drawn_given_the_record_are_calibrated_in_each_world() -> None:
    """Worlds drawn from the law (400), their first 120 days read as a plant reports them (whole
    cars of 100 planned a day): the next 100 days' mean uptime falls in each decile of
    the futures drawn given that record about a tenth of the time, and the futures are
    far narrower than the law's alone (which held all of a world's days or none)."""
    spec = Uptime(mean=0.92, sd=0.06, level_share=0.3, memory_days=5)
    worlds, futures_n, past, ahead = 400, 50, 120, 100
    pit, width = [], []
    prior = futures(spec, n=1000, days=past + ahead)[:, past:].mean(axis=1)
    for w in range(worlds):
        truth = lasting_uptime(np.random.default_rng([11, w]), spec, past + ahead)
        built = np.diff(np.floor(np.cumsum(100 * truth[:past])), prepend=0.0)
        z, var = record_latent(spec, built, np.full(past, 100.0))
        known = filtered(spec, z, var)
        draws = np.array(
            [
                lasting_uptime(np.random.default_rng([12, w, i]), spec, past + ahead, known=known)[
                    past:
                ].mean()
                for i in range(futures_n)
            ]
        )
        pit.append((draws < truth[past:].mean()).mean())
        width.append(np.subtract(*np.percentile(draws, [90, 10])))
    counts = np.histogram(pit, bins=10, range=(0, 1))[0] / worlds
    assert counts.min() > 0.05, counts
    assert counts.max() < 0.15, counts
    assert np.mean(width) < 0.7 * np.subtract(*np.percentile(prior, [90, 10]))


def test_a_day_that_built_nothing_is_not_read() -> None:
    """A stop the plan did not know (the demo's record has one) is no uptime of 0: it is
    not read, and a reading far outside the law is held at Z_READ (read as 0 it pulled
    the demo's futures' level four standard deviations down)."""
    spec = Uptime(mean=0.935, sd=0.053, level_share=0.16, memory_days=4.9)
    planned = np.full(6, 920.0)
    z, _ = record_latent(spec, np.array([0.0, 860, 900, 200, 880, 0]), planned)
    assert np.isnan(z[[0, 5]]).all()
    assert z[3] == -Z_READ
    assert np.isfinite(z[[1, 2, 4]]).all()
    stopped = filtered(spec, *record_latent(spec, np.array([0.0, 860, 860]), planned[:3]))
    plain = filtered(spec, *record_latent(spec, np.array([860.0, 860]), planned[:2]))
    assert stopped.mean[0] == pytest.approx(plain.mean[0], abs=0.05)
