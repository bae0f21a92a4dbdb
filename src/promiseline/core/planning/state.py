"""What is left after some orders are booked: free slots, mix room, available parts.

The planner mutates one `State` as it books; `quote` searches a final state, or one
rebuilt from the bookings of the orders ahead of a new one (no search needed for that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from promiseline.core.arrays import I32, I64
from promiseline.core.planning.capacity import Capacity
from promiseline.core.planning.classes import Classes
from promiseline.core.planning.kernel import BLOCK, part_blocks


@dataclass(slots=True)
class State:
    free: I32  # [line, day]
    mixfree: I32  # [mix, day]
    val: I64  # [part, day] available parts (blocked, see kernel.py)
    taken: I64  # [part, block] parts taken from the block's days (kernel.py)
    bmin: I64  # [part, block + 1] each block's minimum value; last: a floor of every day
    ilo: I64  # per class: days [ilo, ihi) known infeasible
    ihi: I64
    load: I64  # [sailing] cars loaded
    departed: I64  # [market, month] cars departing (for quotas)
    skip: I64  # [sailing] skip pointers over sailings without room (kernel.py)

    @classmethod
    def fresh(cls, cap: Capacity, n_classes: int) -> State:
        val, taken, bmin = part_blocks(cap.on_hand)
        return cls(
            free=cap.slots.copy(),
            mixfree=cap.mix_cap.copy(),
            val=val,
            taken=taken,
            bmin=bmin,
            ilo=np.zeros(n_classes, dtype=np.int64),
            ihi=np.zeros(n_classes, dtype=np.int64),
            **_ships(cap, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)),
        )

    @classmethod
    def booked(
        cls,
        cap: Capacity,
        classes: Classes,
        order_cls: I32,
        order_line: I32,
        order_day: I32,
        order_sailing: I32,
        order_mk: I32,
    ) -> State:
        """The state after these bookings (day -1 or outside the horizon: nothing taken;
        sailing < 0: none)."""
        days = cap.days
        inside = (order_day >= 0) & (order_day < days)
        k, ln, d = order_cls[inside], order_line[inside], order_day[inside].astype(np.int64)
        n_lines = cap.slots.shape[0]
        used = np.bincount(ln.astype(np.int64) * days + d, minlength=n_lines * days)
        free = (cap.slots - used.reshape(n_lines, days)).astype(np.int32)
        mixfree = cap.mix_cap.copy()
        for m, inst in enumerate(cap.mixes):
            hit = classes.mix_on[k, m] & (ln == inst.line)
            mixfree[m] -= np.bincount(d[hit], minlength=days).astype(np.int32)
        on_hand = cap.on_hand.copy()
        for p in range(on_hand.shape[0]):
            q = classes.qty_dense[k, p]
            on_hand[p] -= np.cumsum(np.bincount(d, weights=q, minlength=days)).astype(np.int64)
        val, taken, bmin = part_blocks(on_hand)
        n = len(classes.line_ptr) - 1
        on = order_sailing >= 0
        return cls(
            free,
            mixfree,
            val,
            taken,
            bmin,
            np.zeros(n, np.int64),
            np.zeros(n, np.int64),
            **_ships(cap, order_sailing[on].astype(np.int64), order_mk[on].astype(np.int64)),
        )

    def copy(self) -> State:
        """An independent copy (bookings into it leave this one as it is)."""
        return State(
            self.free.copy(),
            self.mixfree.copy(),
            self.val.copy(),
            self.taken.copy(),
            self.bmin.copy(),
            self.ilo.copy(),
            self.ihi.copy(),
            self.load.copy(),
            self.departed.copy(),
            self.skip.copy(),
        )

    def available(self) -> I64:
        """Available parts per part and day (less what the blocks before each day took)."""
        before = np.cumsum(self.taken, axis=1) - self.taken
        return self.val - np.repeat(before, BLOCK, axis=1)[:, : self.val.shape[1]]

    def arrays(self) -> tuple[object, ...]:
        """The state as the kernel takes it (`st` in kernel.py)."""
        return (self.free, self.mixfree, self.val, self.taken, self.bmin)

    def ships(self) -> tuple[I64, I64, I64]:
        """The sailings' state as the kernel takes it (`ship` in kernel.py)."""
        return (self.load, self.departed, self.skip)


def _ships(cap: Capacity, sailing: I64, market: I64) -> dict[str, I64]:
    """Sailing loads and departures per market and month after these bookings."""
    sea = cap.sea
    n = len(sea.sail_day)
    load = np.bincount(sailing, minlength=n).astype(np.int64)
    departed = np.zeros(sea.quota.shape, dtype=np.int64)
    np.add.at(departed, (market, sea.sail_month[sailing]), 1)
    return {"load": load, "departed": departed, "skip": np.arange(1, n + 1, dtype=np.int64)}
