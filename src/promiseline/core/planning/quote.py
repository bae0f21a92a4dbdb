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

from promiseline.core.model.orders import canonical_options
from promiseline.core.planning.classes import build_classes
from promiseline.core.planning.plan import (
    NO_LINE,
    Plan,
    final_bound,
    market_days,
    no_sailing_reason,
    no_slot,
)
from promiseline.core.planning.planner import run_kernel
from promiseline.core.planning.sea import NEVER, NO_SAILING, ship
from promiseline.core.planning.state import State
from promiseline.errors import OrderError, QuoteError


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


_EPOCH = dt.datetime(1970, 1, 1)
_US = dt.timedelta(microseconds=1)


def queue_slot(plan: Plan, priority: int, when: dt.datetime, order_id: str | None) -> int:
    """How many active orders are ahead of a new one with this key."""
    prio, t, n = plan.active_priority, plan.active_locked_us, plan.n_active
    when_us = (when.replace(tzinfo=None) - _EPOCH) // _US
    if n == 0 or (priority, when_us) > (prio[-1], t[-1]):  # the usual case: the back
        return n
    lo, hi = np.searchsorted(prio, priority, "left"), np.searchsorted(prio, priority, "right")
    first = int(lo + np.searchsorted(t[lo:hi], when_us, "left"))
    last = int(lo + np.searchsorted(t[lo:hi], when_us, "right"))
    if order_id is None:  # an order locked "now" goes after every tie
        return last
    ids = plan.table["order_id"].slice(plan.n_fixed + first, last - first)
    return first + sum(1 for x in ids if x < order_id)


def quote(
    plan: Plan,
    model: str,
    variant: str,
    market: str,
    options: dict[str, str] | None,
    when: dt.datetime,
    *,
    priority: int = 0,
    order_id: str | None = None,
) -> Quote:
    """Earliest build and delivery date for a new order locked at `when`; books nothing."""
    return _quote(
        plan, plan.state, 0, model, variant, market, options, when, priority, order_id, False
    )


class Booking:
    """The live booking state between two plans: the plan's final state, copied, and the
    orders booked at the back of the queue since. The plan itself stays as planned, so
    its table and summary keep agreeing; the next plan replaces the booking.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.state = plan.state.copy()
        self.booked = 0  # orders booked since the plan, all at the back of the queue

    def quote(
        self,
        model: str,
        variant: str,
        market: str,
        options: dict[str, str] | None,
        when: dt.datetime,
        *,
        priority: int = 0,
        order_id: str | None = None,
    ) -> Quote:
        """As `quote`, behind the orders booked since the plan."""
        return _quote(
            self.plan,
            self.state,
            self.booked,
            model,
            variant,
            market,
            options,
            when,
            priority,
            order_id,
            False,
        )

    def book(
        self,
        model: str,
        variant: str,
        market: str,
        options: dict[str, str] | None,
        when: dt.datetime,
    ) -> Quote:
        """Book a new order locked at `when` into the slot a full re-plan would give it.

        Only the back of the queue can be booked (QuoteError otherwise: a re-plan is due).
        """
        q = _quote(
            self.plan,
            self.state,
            self.booked,
            model,
            variant,
            market,
            options,
            when,
            0,
            None,
            True,
        )
        self.booked += q.build_date is not None
        return q


def _quote(
    plan: Plan,
    live: State,
    booked: int,
    model: str,
    variant: str,
    market: str,
    options: dict[str, str] | None,
    when: dt.datetime,
    priority: int,
    order_id: str | None,
    book: bool,
) -> Quote:
    s, cap = plan.scenario, plan.capacity
    s.check_order(model, variant, market)
    canonical = canonical_options(options or {})
    if canonical is None:
        raise OrderError(f"options must be a flat mapping of names to values, got {options!r}")
    config = (model, variant, canonical)
    classes = plan.quote_classes.get(config)
    if classes is None:
        classes = plan.quote_classes.setdefault(config, build_classes(s, cap, [config])[0])
    pos = queue_slot(plan, priority, when, order_id)
    if book and pos != plan.n_active:
        raise QuoteError("only an order at the back of the queue can be booked into a plan")
    k_plan = plan.configs.get(config)
    if pos == plan.n_active:  # at the back: behind the plan and every booking since
        state = live
        ilo = live.ilo[[k_plan]] if k_plan is not None else np.zeros(1, np.int64)
        ihi = live.ihi[[k_plan]] if k_plan is not None else np.zeros(1, np.int64)
        ahead_booked = booked
    else:  # jumping the queue: the state after the bookings ahead of it (none live)
        ahead = np.arange(plan.n_fixed + pos)  # history and frozen rows come first
        state = State.booked(
            cap,
            plan.classes,
            plan.order_cls[ahead],
            plan.placement.line[ahead],
            plan.placement.day[ahead],
            plan.placement.sailing[ahead],
            plan.mk[ahead],
        )
        ilo = ihi = np.zeros(1, np.int64)
        ahead_booked = 0
    state = dataclasses.replace(state, ilo=ilo.astype(np.int64), ihi=ihi.astype(np.int64))
    locked = when.date() + dt.timedelta(days=s.lead_in_days)  # the planner's earliest day
    rel = max(s.now - s.start, locked - s.start).days
    mk = np.array([s.catalog[1].index(market)], np.int32)
    mkt = s.markets[int(mk[0])]
    floor = mkt.build_floor(model, variant)  # not built further ahead than needed
    floored = floor is not None and (floor - s.start).days > rel
    rel = (floor - s.start).days if floor is not None and floored else rel
    out = run_kernel(
        np.zeros(1, np.int32), np.array([rel], np.int32), mk, state, cap, classes, book=book
    )
    day, line, code = int(out.day[0]), int(out.line[0]), int(out.bound[0])
    names = plan.bound_text
    if line < 0:
        if out.sailing[0] == NO_SAILING:
            reason = no_sailing_reason(s, s.markets[int(mk[0])].quota is not None)
        elif not any(model in ms for ms in cap.line_models):
            reason = NO_LINE
        else:
            reason = no_slot(s)
        return Quote(
            model, variant, market, when, None, None, None, None, None, None, names[code], reason
        )
    build = cap.date(day)
    if mkt.lead_days is not None:  # by road, the common case: no arrays needed
        delivery, bound = build + dt.timedelta(days=mkt.lead_days), names[code]
        if mkt.opens and mkt.opens > delivery:
            delivery, bound = mkt.opens, f"market:{market}"
    else:
        lead, opens = market_days(s, mk)
        g = mkt.gate(model, variant)
        gate = np.array([(g - s.start).days if g else NEVER], np.int32)
        shipped = ship(cap.sea, out.day, out.sailing, lead, opens, gate)
        on_floor = np.array([floored and day == rel])
        code = int(final_bound(s, cap, mk, out.bound, shipped, out.line >= 0, on_floor)[0])
        bound = names[code]
        delivery = cap.date(int(shipped.delivery[0]))
    return Quote(
        model,
        variant,
        market,
        when,
        build,
        delivery,
        cap.plant_names[line],
        cap.line_names[line],
        plan.planned_before(pos) + ahead_booked + 1,
        (delivery - when.date()).days,
        bound,
        None,
    )
