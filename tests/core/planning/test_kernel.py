"""The compiled kernel's part blocks (kernel.py): the block form, "first day with enough
parts from then on" and "take q from day d on", against plain numpy on random arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.model.scenario import Scenario
from promiseline.core.planning import kernel
from promiseline.core.planning.capacity import capacity
from promiseline.core.planning.classes import build_classes
from promiseline.core.planning.kernel import BLOCK, part_blocks, part_threshold, take_part
from promiseline.core.planning.state import State
from tests.conftest import examples

I64 = npt.NDArray[np.int64]


@st.composite
def on_hands(draw: st.DrawFn, min_days: int = 0) -> I64:
    """Available parts per part and day: any integers, over 0 to a few blocks of days."""
    parts = draw(st.integers(1, 3))
    days = draw(st.integers(min_days, 3 * BLOCK + 5))
    cell = st.integers(-3, 40)
    rows = draw(
        st.lists(st.lists(cell, min_size=days, max_size=days), min_size=parts, max_size=parts)
    )
    return np.array(rows, dtype=np.int64).reshape(parts, days)


def first_day_with_enough(avail: I64, q: int) -> int:
    """The rule, read literally: the first d with avail[t] >= q for every t >= d."""
    return next(d for d in range(len(avail) + 1) if (avail[d:] >= q).all())


def available(val: I64, taken: I64) -> I64:
    """Each day's value less what the blocks before its own took."""
    before = np.cumsum(taken, axis=1) - taken
    return val - np.repeat(before, BLOCK, axis=1)[:, : val.shape[1]]


@settings(max_examples=examples(200), deadline=None)
@given(on_hand=on_hands())
def test_part_blocks_hold_block_minima(on_hand: I64) -> None:
    """Values are a copy of the parts, nothing is taken, bmin holds each block's minimum
    and then the minimum over all days."""
    parts, days = on_hand.shape
    val, taken, bmin = part_blocks(on_hand)
    nb = -(-days // BLOCK)
    assert np.array_equal(val, on_hand)
    assert not np.shares_memory(val, on_hand)
    assert taken.shape == (parts, nb)
    assert not taken.any()
    assert bmin.shape == (parts, nb + 1)
    for b in range(nb):
        assert np.array_equal(bmin[:, b], on_hand[:, b * BLOCK : (b + 1) * BLOCK].min(axis=1))
    if days:
        assert np.array_equal(bmin[:, nb], on_hand.min(axis=1))


@settings(max_examples=examples(200), deadline=None)
@given(on_hand=on_hands(), q=st.integers(1, 45))
def test_threshold_is_the_first_day_with_enough_from_then_on(on_hand: I64, q: int) -> None:
    """part_threshold returns the first day from which every day has at least q (the
    horizon's length when even the last day is short)."""
    days = on_hand.shape[1]
    val, taken, bmin = part_blocks(on_hand)
    for p in range(on_hand.shape[0]):
        want = first_day_with_enough(on_hand[p], q)
        assert part_threshold(val, taken, bmin, p, q, days) == want


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data(), on_hand=on_hands(min_days=1))
def test_takes_lower_every_day_from_then_on(data: st.DataObject, on_hand: I64) -> None:
    """After any takes (q from day d on), the block form holds the parts minus the
    cumulative takes, block minima stay exact, and thresholds still follow the rule."""
    parts, days = on_hand.shape
    val, taken, bmin = part_blocks(on_hand)
    takes = np.zeros((parts, days), dtype=np.int64)  # takes per part and day
    for _ in range(data.draw(st.integers(1, 12))):
        p = data.draw(st.integers(0, parts - 1))
        q = data.draw(st.integers(1, 5))
        d = data.draw(st.integers(0, days - 1))
        take_part(val, taken, bmin, p, q, d, days)
        takes[p, d] += q
        want = on_hand - np.cumsum(takes, axis=1)
        assert np.array_equal(available(val, taken), want)
        nb = taken.shape[1]
        before = np.cumsum(taken, axis=1) - taken
        for b in range(nb):  # each block's minimum, less what the blocks before it took
            block_min = want[:, b * BLOCK : (b + 1) * BLOCK].min(axis=1)
            assert (bmin[:, b] - before[:, b] == block_min).all()
        assert (bmin[:, nb] <= want.min(axis=1)).all()  # a lower bound of every day
        ask = data.draw(st.integers(1, 45))
        for r in range(parts):
            loose = bmin[r, nb] < ask
            assert part_threshold(val, taken, bmin, r, ask, days) == first_day_with_enough(
                want[r], ask
            )
            if loose:  # a query that had to look makes the floor exact again
                assert bmin[r, nb] == want[r].min()


def test_take_books_one_order(tiny: Scenario) -> None:
    """take() uses one slot of the line, one unit of each counting mix limit on that day,
    and the variant's parts from that day on."""
    cap = capacity(tiny)
    classes, _ = build_classes(tiny, cap, [("A", "M", "{}")])  # pack + lidar, counted by m-max
    state = State.fresh(cap, 1)
    kernel.take(0, 0, 4, state.arrays(), classes.arrays(), 1)
    fresh = State.fresh(cap, 1)
    free, mixfree = fresh.free.copy(), fresh.mixfree.copy()
    free[0, 4] -= 1
    mixfree[0, 4] -= 1
    parts = cap.on_hand.copy()
    parts[:, 4:] -= 1  # one pack and one lidar
    assert np.array_equal(state.free, free)
    assert np.array_equal(state.mixfree, mixfree)
    assert np.array_equal(state.available(), parts)


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # `tiny` is only read
)
@given(data=st.data())
def test_a_bundle_books_what_its_orders_book_one_by_one(
    tiny: Scenario, data: st.DataObject
) -> None:
    """take(..., n) leaves the state n takes of one leave, in any order among others
    (planner.FixedBundles books history and frozen orders so, once per bundle)."""
    cap = capacity(tiny)
    classes, _ = build_classes(tiny, cap, [("A", "M", "{}"), ("A", "S", "{}")])
    one, bundled = State.fresh(cap, 2), State.fresh(cap, 2)
    takes = data.draw(
        st.lists(
            st.tuples(st.integers(0, 1), st.integers(0, cap.days - 1), st.integers(1, 5)),
            max_size=8,
        )
    )
    for k, d, n in takes:
        e = int(classes.line_ptr[k])
        for _ in range(n):
            kernel.take(k, e, d, one.arrays(), classes.arrays(), 1)
    for k, d, n in reversed(takes):
        kernel.take(k, int(classes.line_ptr[k]), d, bundled.arrays(), classes.arrays(), n)
    assert np.array_equal(one.free, bundled.free)
    assert np.array_equal(one.mixfree, bundled.mixfree)
    assert np.array_equal(one.available(), bundled.available())
