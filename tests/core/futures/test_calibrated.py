"""A backtest whose reality is drawn from the scenario's own uncertainty is calibrated by
construction: what a replay knows and its futures draw must be what the reality does, so
the first promises' PIT is uniform at every horizon. Long queues show any gap: a little
capacity the futures have and the reality has not (or the reverse) moves every order
behind it, while the windows, built from day-to-day noise that averages out, stay
narrow. Two such gaps were found this way (see git log): the futures of a replay gave
the frozen zone's spare capacity (a good day's uptime above what the plant had
scheduled) to orders the reality had kept out of it, and replays began at the start
while the reality began building at the scenario's `as_of`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest

from promiseline.core.futures.backtest import Backtest, backtest, known_on, realize
from promiseline.core.futures.calibration import (
    WEEK_BUCKETS,
    randomized_pit,
    weeks_bucket,
    weeks_label,
)
from promiseline.core.futures.simulate import simulate
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import ACTIVE

START = dt.date(2026, 3, 2)
QUEUE_DAYS = 70  # the book fills the lines for about ten weeks
MIN_ORDERS = 40  # of one reality in a bucket, for its share to count
MIN_REALITIES = 3
FLOOR = 0.05  # a gap this small passes however sure the realities are of it
SIGMAS = 4.0  # standard errors over realities (each shares its luck: one sample each)


def own_world(seed: int) -> tuple[Scenario, pl.DataFrame]:
    """A small random scenario (one or two lines, each with its own uptime; a frozen zone
    or none, lead-in, a plan day after the start, sometimes a part in short supply) and
    a book (a backlog, then a launch) that fills it for about ten weeks. Uptime only: its
    luck averages out over the days, so ten realities judge the windows (a slipped
    ramp-up or a supplier's shortfall is one draw per reality that all its orders share,
    and needs dozens: checked so, not here)."""
    rng = np.random.default_rng(seed)
    n_lines = int(rng.integers(1, 3))
    shared = bool(rng.integers(0, 2))  # both lines build the one model, or one each
    parts = bool(rng.integers(0, 2))
    lines: list[dict[str, Any]] = []
    uptime: dict[str, dict[str, float]] = {}
    per_day = 0.0
    for i in range(n_lines):
        jph = round(float(rng.uniform(0.8, 1.6)), 2)
        per_day += jph * 10
        lines.append(
            {
                "name": f"l{i}",
                "models": ["M"] if shared else [f"M{i}"],
                "jph": jph,
                "shifts": [{"from": START, "hours": 10}],
            }
        )
        uptime[f"l{i}"] = {
            "mean": round(float(rng.uniform(0.85, 0.97)), 3),
            "sd": round(float(rng.uniform(0.04, 0.09)), 3),
        }
    models = ["M"] if shared else [f"M{i}" for i in range(n_lines)]
    variant = {"name": "long", "parts": {"pack": 1}} if parts else {"name": "long"}
    scenario = Scenario.model_validate(
        {
            "name": f"own-{seed}",
            "start": START,
            "as_of": START + dt.timedelta(days=int(rng.integers(0, 7))),
            "horizon_days": 200,
            "frozen_days": int(rng.choice([0, 3, 7, 10, 14])),
            "lead_in_days": int(rng.integers(0, 4)),
            "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            "products": [{"model": m, "variants": [{"name": "base"}, variant]} for m in models],
            "plants": [{"name": "p", "lines": lines}],
            "parts": [
                {"name": "pack", "stock": 20, "supply": [{"from": START, "per_week": per_day * 3}]}
            ],
            "markets": [{"name": "road", "lead_days": int(rng.integers(2, 6))}],
            "uncertainty": {"line_uptime": uptime},
        }
    )
    n = int(per_day * QUEUE_DAYS)
    hours = np.sort(rng.integers(-10 * 24, 5 * 24, n))  # a backlog, then the launch
    book = pl.DataFrame(
        {
            "order_id": [f"o{i:05d}" for i in range(n)],
            "model": rng.choice(models, n).tolist(),
            "variant": rng.choice(["base", "long"], n).tolist(),
            "market": ["road"] * n,
            "locked_at": [
                (dt.datetime.combine(START, dt.time()) + dt.timedelta(hours=int(h))).isoformat()
                for h in hours
            ],
        }
    )
    return scenario, book


def pit_by_weeks(bt: Backtest) -> dict[int, list[tuple[float, float, float]]]:
    """Per weeks-ahead bucket, per reality with enough first promises delivered there:
    (mean PIT, share above 0.9, share below 0.1)."""
    out: dict[int, list[tuple[float, float, float]]] = {}
    for led, delivered, realized in zip(bt.ledgers, bt.delivered, bt.realized, strict=True):
        m = delivered & (led.first_day >= 0)
        pit = led.first_pit[m]
        bucket = weeks_bucket((realized[m] - led.first_day[m]) // 7)
        for b in range(len(WEEK_BUCKETS)):
            p = pit[bucket == b]
            if len(p) >= MIN_ORDERS:
                out.setdefault(b, []).append((p.mean(), (p > 0.9).mean(), (p < 0.1).mean()))
    return out


# 13: two lines sharing a model, a 14-day frozen zone; 14: no frozen zone, as_of two days
# after the start. Over seeds 0-23 every world passed with the fix and failed without.
@pytest.mark.parametrize("seed", [13, 14])
def test_a_world_of_its_own_uncertainty_is_calibrated_at_every_horizon(seed: int) -> None:
    """Realities drawn from the scenario's own uncertainty, replayed weekly: in every
    weeks-ahead bucket the first promises' mean PIT is 1/2 and a tenth of deliveries
    fall in each outer tenth, within a floor or a few standard errors over realities.
    A reality's luck moves all its promises together, the outer tenths with the mean:
    so they are allowed what the mean is (and the mean what a reality's luck spreads)."""
    s, book = own_world(seed)
    bt = backtest(s, book, realities=10, futures=16, every_days=7, span_days=21, seed=seed)
    shares = pit_by_weeks(bt)
    assert len(shares) >= 2, shares  # the queue reaches past the first month
    for b, rows in shares.items():
        if len(rows) < MIN_REALITIES:
            continue
        x = np.array(rows)  # realities x (mean PIT, after the P90, before the P10)
        se = x.std(axis=0, ddof=1) / np.sqrt(len(x))
        for k, (name, calibrated) in enumerate(
            [("mean PIT", 0.5), ("after the P90", 0.1), ("before the P10", 0.1)]
        ):
            assert abs(x[:, k].mean() - calibrated) <= max(FLOOR, SIGMAS * max(se[0], se[k])), (
                f"{weeks_label(b)} weeks ahead: {name} {x[:, k].mean():.3f} (per reality "
                f"{np.round(x[:, k], 3).tolist()}), calibrated {calibrated}"
            )


def test_windows_told_at_lock_keep_their_odds() -> None:
    """Found in review: the window an order is told at its lock (borrowed from the orders
    around it) pooled every variant of a model, so where a scarce part held one variant to
    a fixed date, the other's windows were a day wide and held 53 % while stating 97 %.
    Pooled per variant, they hold about what they state."""
    s, book = own_world(14)
    bt = backtest(s, book, realities=3, futures=12, every_days=14, span_days=84, seed=1)
    p = bt.pooled
    at = p.at_lock
    assert at.sum() > 200
    inside = (p.realized[at] >= p.first[at, 0]) & (p.realized[at] <= p.first[at, 2])
    assert inside.mean() >= np.nanmean(p.first_prob[at]) - 0.1


def cancelling_world() -> tuple[Scenario, pl.DataFrame]:
    """One certain line and a 420-day queue whose customers cancel as they wait (about
    1 % a week at the back): cancellations are all that is uncertain."""
    s = Scenario.model_validate(
        {
            "name": "cancels",
            "start": START,
            "horizon_days": 500,
            "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            "products": [{"model": "M", "variants": [{"name": "v"}]}],
            "plants": [
                {
                    "name": "p",
                    "lines": [
                        {
                            "name": "l",
                            "models": ["M"],
                            "jph": 1,
                            "shifts": [{"from": START, "hours": 10}],
                        }
                    ],
                }
            ],
            "markets": [{"name": "m", "lead_days": 2}],
            "uncertainty": {
                "cancellation": {"base_weekly": 0.002, "per_month_wait": 0.001, "max_weekly": 0.03}
            },
        }
    )
    n = 4200
    book = pl.DataFrame(
        {
            "order_id": [f"o{i:05d}" for i in range(n)],
            "model": ["M"] * n,
            "variant": ["v"] * n,
            "market": ["m"] * n,
            "locked_at": [
                (dt.datetime.combine(START, dt.time()) - dt.timedelta(hours=n - i)).isoformat()
                for i in range(n)
            ],
        }
    )
    return s, book


def test_a_queue_that_cancels_is_foreseen_as_it_shrinks() -> None:
    """Found on the demo (promises 39-51 weeks ahead held a third of the time): the
    reality, drawn once from the first plan, let an order cancel until the plan's build
    day, which knows no cancellations and lies months after the day it is built; a later
    replay's plan knows the cancellations so far, so its futures let the orders ahead
    cancel for less long than the reality did, and the back of the queue came early
    (here, twelve weeks in, every delivery 26+ weeks ahead came before every future).
    Exposed until the build day the pilot futures expect, the replay's futures are the
    reality's: mean PIT 1/2, within what the realities' shared luck allows (as above)."""
    s, book = cancelling_world()
    day, means = 84, []
    for seed in range(12):
        r = realize(s, book, seed)
        known, known_book = known_on(s, r, day)
        sim = simulate(known, known_book, futures=40, seed=100 + seed)
        t = sim.base.table
        rows = np.flatnonzero(
            (sim.base.group == ACTIVE)
            & (sim.base.placement.line >= 0)
            & (sim.totals.hist.sum(axis=1) > 0)
        )
        where = {o: i for i, o in enumerate(r.book["order_id"].to_list())}
        g = np.array([where[o] for o in t["order_id"].gather(rows).to_list()])
        y = r.delivery[g]
        far = r.delivered[g] & (y >= day + 26 * 7)  # 26+ weeks ahead
        assert far.sum() >= 100
        pit = randomized_pit(sim.forecast(rows[far]), y[far], np.random.default_rng(seed))
        means.append(pit.mean())
    x = np.array(means)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert abs(x.mean() - 0.5) <= max(FLOOR, SIGMAS * se), np.round(x, 2).tolist()
