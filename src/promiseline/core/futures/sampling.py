"""Sampling one future: line uptime, ramp-up slips, supply shortfalls, cancellations and
new-order inflow, from the scenario's `uncertainty` section.

Every future has its own generator, seeded by (seed, future number), and draws in a
fixed order, so a future is the same whichever process computes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from promiseline.core.arrays import F64, I64
from promiseline.core.futures.lasting import Known, beta_shape, lasting_uptime, spells
from promiseline.core.model.scenario import Scenario, Uncertainty, Uptime
from promiseline.core.planning.planner import NEVER_CANCELS


@dataclass(frozen=True, slots=True)
class Draw:
    """What differs in one future (None: as in the deterministic plan)."""

    uptime: F64 | None  # [line, day]
    ramp_slip: I64 | None  # [line] days
    supply_scale: F64 | None  # [part, day]
    cancel_draw: F64 | None  # per book order, planning order: uniform draw for the day
    # it cancels if it still waits then (`cancel_day`)
    inflow_day: I64  # release day of each new order
    inflow_config: I64  # index into the inflow configurations
    refund_draw: F64 | None  # per book order: uniform draw for a refund cancellation


def rng_for(seed: int, future: int) -> np.random.Generator:
    return np.random.default_rng([seed, future])


def draw_uptime(rng: np.random.Generator, u: Uptime, size: int, known: Known | None = None) -> F64:
    """`size` daily uptimes of one line: a Beta of the mean and sd (a constant without
    spread, and at a mean of 1, which leaves no room to spread); days that move together
    when the spec says so (lasting.py), given what the line's record says (`known`)."""
    if u.sd == 0 or u.mean == 1:
        return np.full(size, u.mean)
    if u.lasting:
        return lasting_uptime(rng, u, size, known=known)
    return rng.beta(*beta_shape(u.mean, u.sd), size)


def weekly_hazard(u: Uncertainty, wait_days: F64) -> F64:
    """Weekly chance of cancelling, rising with the quoted wait (0 without a model)."""
    c = u.cancellation
    if c is None:
        return np.zeros(len(wait_days))
    return np.minimum(c.max_weekly, c.base_weekly + c.per_month_wait * wait_days / 30.0)


def cancel_day(draw: F64, weekly: F64, since: npt.NDArray[np.int32]) -> I64:
    """The day each order cancels if it still waits then: its weekly hazard from `since`
    on (inverse of the geometric law, in continuous weeks; `draw` uniform in [0, 1)).
    Whether it does is the future's to say: only if it is not built before (an order's
    exposure is its own wait in that future, not a plan's or any other future's)."""
    h = np.minimum(weekly, 1 - 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        weeks = np.where(h > 0, np.log1p(-draw) / np.log1p(-h), np.inf)
    day = since + np.floor(7.0 * np.minimum(weeks, float(NEVER_CANCELS)))
    return np.minimum(day, NEVER_CANCELS).astype(np.int64)


def _line_slips(u: Uncertainty, names: list[str], z: F64) -> I64:
    """Each line's slip from its own spread (else the common one): normal, clipped at 0,
    or, when it is known to be late by `at_least` days, drawn given that (by inverting
    the normal's distribution function on the part of it that is still possible)."""
    out = np.zeros(len(names), dtype=np.int64)
    for i, name in enumerate(names):
        spec = u.line_ramp_slip.get(name, u.ramp_slip)
        if spec is None:
            continue
        floor = getattr(spec, "at_least", 0)
        if spec.sd == 0 or floor == 0:
            x = spec.mean + spec.sd * z[i]
        else:  # the slip rounds to at least `floor`: x >= floor - 0.5
            law = NormalDist(spec.mean, spec.sd)
            lo = law.cdf(floor - 0.5)
            u01 = min(lo + NormalDist().cdf(z[i]) * (1 - lo), 1 - 1e-12)
            x = law.inv_cdf(u01) if lo < 1 - 1e-12 else floor
        out[i] = max(floor, int(np.rint(max(x, 0.0))))
    return out


def sample(
    u: Uncertainty,
    s: Scenario,
    future: int,
    seed: int,
    orders: int,
    inflow_start: int,
    inflow_weights: F64,
    known: tuple[Known | None, ...] = (),
) -> Draw:
    """One future's draws (in a fixed order); `known`: per line, what its record says of
    its lasting uptime (none: the scenario's law alone)."""
    rng = rng_for(seed, future)
    days = s.horizon_days
    past = (s.now - s.start).days  # what came before now is known: not drawn again
    lines = s.lines

    uptime = None
    if u.uptime is not None or u.line_uptime:
        uptime = np.ones((len(lines), days))
        for i, (_, ln) in enumerate(lines):
            spec = u.line_uptime.get(ln.name, u.uptime)
            if spec is not None:
                uptime[i] = draw_uptime(rng, spec, days, known[i] if known else None)

    slip = None
    if u.line_ramp_slip:
        slip = _line_slips(u, [ln.name for _, ln in lines], rng.standard_normal(len(lines)))
    elif u.ramp_slip is not None:
        raw = (
            rng.normal(u.ramp_slip.mean, u.ramp_slip.sd, len(lines))
            if u.ramp_slip.sd
            else np.full(len(lines), u.ramp_slip.mean)
        )
        slip = np.maximum(0, np.rint(raw)).astype(np.int64)

    scale = None
    if u.shortfalls:
        scale = np.ones((len(s.parts), days))
        months = max(1, -(-days // 30))
        for sf in u.shortfalls:
            targets = [i for i, p in enumerate(s.parts) if sf.part in (None, p.name)]
            for i in targets:
                hit = rng.random(months) < sf.per_month
                starts = np.arange(months) * 30 + rng.integers(0, 30, months)
                for start in starts[hit]:
                    scale[i, start : start + sf.days] *= 1.0 - sf.depth

    if u.slowdowns:
        uptime = np.ones((len(lines), days)) if uptime is None else uptime
        for sd in u.slowdowns:
            for i, (_, ln) in enumerate(lines):
                if sd.line in (None, ln.name):
                    uptime[i] *= spells(rng, sd.per_year, sd.depth, sd.days, days)
    if u.outages:
        scale = np.ones((len(s.parts), days)) if scale is None else scale
        for og in u.outages:
            for i, p in enumerate(s.parts):
                if og.part in (None, p.name):
                    scale[i] *= spells(rng, og.per_year, og.depth, og.days, days)

    if scale is not None and past > 0:
        scale[:, :past] = 1.0

    cancel = rng.random(orders) if u.cancellation is not None else None

    inflow_day = np.zeros(0, dtype=np.int64)
    inflow_config = np.zeros(0, dtype=np.int64)
    f = u.inflow
    if f is not None and f.per_day > 0 and len(inflow_weights):
        # the rate halves from the inflow's start; a future as of a later day draws the
        # orders from then on at the rate of then (not a fresh surge from now)
        d = np.arange(max(inflow_start, past), min(days, inflow_start + f.days))
        rate = f.per_day * 0.5 ** ((d - inflow_start) / f.half_life_days)
        if f.noise > 0:
            shape = 1.0 / (f.noise * f.noise)
            rate = rate * rng.gamma(shape, 1.0 / shape, len(d))
        counts = rng.poisson(rate)
        inflow_day = np.repeat(d, counts).astype(np.int64)
        inflow_config = rng.choice(
            len(inflow_weights), size=len(inflow_day), p=inflow_weights / inflow_weights.sum()
        ).astype(np.int64)

    refund = rng.random(orders) if u.cancellation is not None else None
    return Draw(uptime, slip, scale, cancel, inflow_day, inflow_config, refund)
