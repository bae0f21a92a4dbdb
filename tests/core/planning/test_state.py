"""The booking state (state.py): fresh = the capacity, rebuilt = what the planner left, copies
independent."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning import kernel
from promiseline.core.planning.capacity import capacity
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan
from promiseline.core.planning.state import State
from tests.conftest import examples
from tests.strategies import order_tables, scenarios

FIELDS = [f.name for f in dataclasses.fields(State)]


def test_fresh_state_is_the_capacity(tiny: Scenario) -> None:
    """A fresh state has every slot, mix room and part of the capacity, in arrays of its own."""
    cap = capacity(tiny)
    fresh = State.fresh(cap, 3)
    assert np.array_equal(fresh.free, cap.slots)
    assert np.array_equal(fresh.mixfree, cap.mix_cap)
    assert np.array_equal(fresh.available(), cap.on_hand)
    assert fresh.ilo.tolist() == fresh.ihi.tolist() == [0, 0, 0]
    fresh.free -= 1
    fresh.mixfree -= 1
    fresh.val -= 1
    again = capacity(tiny)
    assert np.array_equal(cap.slots, again.slots)
    assert np.array_equal(cap.mix_cap, again.mix_cap)
    assert np.array_equal(cap.on_hand, again.on_hand)


def test_bookings_outside_the_horizon_take_nothing(tiny_plan: Plan) -> None:
    """Bookings on day -1 or past the horizon leave the fresh state."""
    cap, classes = tiny_plan.capacity, tiny_plan.classes
    n = len(classes.line_ptr) - 1
    none = State.booked(cap, classes, *(np.zeros(0, np.int32) for _ in range(5)))
    outside = State.booked(
        cap,
        classes,
        np.zeros(2, np.int32),
        np.zeros(2, np.int32),
        np.array([-1, cap.days], np.int32),
        np.full(2, -1, np.int32),
        np.zeros(2, np.int32),
    )
    fresh = State.fresh(cap, n)
    for st_ in (none, outside):
        assert np.array_equal(st_.free, fresh.free)
        assert np.array_equal(st_.mixfree, fresh.mixfree)
        assert np.array_equal(st_.available(), fresh.available())
        assert len(st_.ilo) == len(st_.ihi) == n


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_booked_equals_the_planners_final_state(data: st.DataObject) -> None:
    """Rebuilding the state from the plan's bookings (frozen and planned rows) gives the
    planner's own final state: free slots, mix room and available parts."""
    s = data.draw(scenarios())
    p = plan(s, validate_orders(data.draw(order_tables(s)), s))
    booking = np.arange(p.n_fixed + p.n_active)  # reserved rows come last and book nothing
    rebuilt = State.booked(
        p.capacity,
        p.classes,
        p.order_cls[booking],
        p.placement.line[booking],
        p.placement.day[booking],
        p.placement.sailing[booking],
        p.mk[booking],
    )
    assert np.array_equal(rebuilt.free, p.state.free)
    assert np.array_equal(rebuilt.load, p.state.load)
    assert np.array_equal(rebuilt.departed, p.state.departed)
    assert np.array_equal(rebuilt.mixfree, p.state.mixfree)
    assert np.array_equal(rebuilt.available(), p.state.available())


def test_copy_is_independent(tiny_plan: Plan) -> None:
    """A copy starts equal, shares no array, and booking into it leaves the original."""
    original = tiny_plan.state
    before = {f: getattr(original, f).copy() for f in FIELDS}
    copy = original.copy()
    for f in FIELDS:
        assert np.array_equal(getattr(copy, f), before[f]), f
        assert not np.shares_memory(getattr(copy, f), getattr(original, f)), f
    classes = tiny_plan.classes
    k, e = 0, int(classes.line_ptr[0])
    kernel.take(k, e, 0, copy.arrays(), classes.arrays(), 1)
    copy.ilo += 1
    copy.ihi += 1
    assert copy.free[classes.lines[e], 0] == before["free"][classes.lines[e], 0] - 1
    for f in FIELDS:
        assert np.array_equal(getattr(original, f), before[f]), f
