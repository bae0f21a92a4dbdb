"""Quote (available/capable-to-promise): the date a new order would get if locked now.

A new order's own date depends only on the orders ahead of it in planning order. When
it goes to the back of the queue (the usual case) the plan's final state answers it
directly; otherwise the state is rebuilt from the bookings of the orders ahead (one
vectorized pass, no search). Either way the answer equals a full re-plan with the order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

from promiseline.core.classes import build_classes
from promiseline.core.orders import canonical_options
from promiseline.core.plan import NO_LINE, Plan, bound_names, no_slot
from promiseline.core.planner import run_kernel
from promiseline.core.state import State
from promiseline.errors import PromiselineError


@dataclass(frozen=True, slots=True)
class Quote:
    """The promise for one new order."""

    model: str
    variant: str
    market: str
    locked_at: dt.datetime
    build_date: dt.date | None
    delivery_date: dt.date | None
    plant: str | None
    line: str | None
    queue_position: int | None  # among planned orders, if it were booked
    wait_days: int | None
    bound_by: str
    reason: str | None  # why there is no date

    def to_dict(self) -> dict[str, object]:
        d = dataclasses.asdict(self)
        return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in d.items()}


class QuoteError(PromiselineError):
    """A quote asked for something the scenario does not have."""


def _check(plan: Plan, model: str, variant: str, market: str) -> None:
    s = plan.scenario
    models = {p.model: [v.name for v in p.variants] for p in s.products}
    if model not in models:
        raise QuoteError(f"unknown model {model!r}, expected one of {sorted(models)}")
    if variant not in models[model]:
        raise QuoteError(
            f"unknown variant {variant!r} for model {model!r}, expected one of {models[model]}"
        )
    markets = [m.name for m in s.markets]
    if market not in markets:
        raise QuoteError(f"unknown market {market!r}, expected one of {markets}")


def queue_slot(plan: Plan, priority: int, when: dt.datetime, order_id: str | None) -> int:
    """How many active orders are ahead of a new one with this key."""
    prio, t, ids = plan.active_keys()
    lo, hi = np.searchsorted(prio, priority, "left"), np.searchsorted(prio, priority, "right")
    when_us = np.datetime64(when, "us").astype(np.int64)
    first = lo + np.searchsorted(t[lo:hi], when_us, "left")
    last = lo + np.searchsorted(t[lo:hi], when_us, "right")
    if order_id is None:  # an order locked "now" goes after every tie
        return int(last)
    return int(first + sum(1 for x in ids[first:last] if x < order_id))


def quote(
    plan: Plan,
    model: str,
    variant: str,
    options: dict[str, str] | None,
    market: str,
    when: dt.datetime,
    *,
    priority: int = 0,
    order_id: str | None = None,
    book: bool = False,
) -> Quote:
    """Earliest build and delivery date for a new order locked at `when`.

    With `book`, the order also takes that slot in the plan's final state, so the next
    quote sees it (intake of orders arriving at the back of the queue, between full
    re-plans). Booking is only allowed at the back of the queue.
    """
    _check(plan, model, variant, market)
    canonical = canonical_options(options or {})
    if canonical is None:
        raise QuoteError(f"options must be a flat mapping of names to values, got {options!r}")
    s, cap = plan.scenario, plan.capacity
    config = (model, variant, canonical)
    classes = plan.quote_classes.get(config)
    if classes is None:
        classes = plan.quote_classes.setdefault(config, build_classes(s, cap, [config])[0])
    pos = queue_slot(plan, priority, when, order_id)
    if book and pos != plan.n_active:
        raise QuoteError("only an order at the back of the queue can be booked into a plan")
    k_plan = plan.configs.get((model, variant, canonical))
    if pos == plan.n_active:
        state = plan.state
        ilo = plan.state.ilo[[k_plan]] if k_plan is not None else np.zeros(1, np.int64)
        ihi = plan.state.ihi[[k_plan]] if k_plan is not None else np.zeros(1, np.int64)
    else:
        ahead = np.arange(plan.n_frozen + pos)  # frozen rows come first
        state = State.booked(
            cap,
            plan.classes,
            plan.order_cls[ahead],
            plan.placement.line[ahead],
            plan.placement.day[ahead],
        )
        ilo = ihi = np.zeros(1, np.int64)
    state = dataclasses.replace(state, ilo=ilo.astype(np.int64), ihi=ihi.astype(np.int64))
    rel = max(0, (when.date() - s.start).days)
    out = run_kernel(
        np.zeros(1, np.int32), np.array([rel], np.int32), state, cap, classes, book=book
    )
    day, line, code = int(out.day[0]), int(out.line[0]), int(out.bound[0])
    names = bound_names(s, cap)
    mk = next(m for m in s.markets if m.name == market)
    if line < 0:
        reason = NO_LINE if not any(model in ms for ms in cap.line_models) else no_slot(s)
        return Quote(
            model, variant, market, when, None, None, None, None, None, None, names[code], reason
        )
    build = cap.date(day)
    delivery = build + dt.timedelta(days=mk.lead_days)
    bound = names[code]
    if mk.opens and mk.opens > delivery:
        delivery, bound = mk.opens, f"market:{market}"
    ahead_planned = plan.planned_before(pos)
    return Quote(
        model,
        variant,
        market,
        when,
        build,
        delivery,
        cap.plant_names[line],
        cap.line_names[line],
        ahead_planned + 1,
        (delivery - when.date()).days,
        bound,
        None,
    )
