"""The planner's inner loops, compiled with numba.

Orders are grouped in classes: orders that need the same lines, parts and mix limits.
Feasibility only ever shrinks while orders are placed (slots, mix room and available
parts only go down), so the days a class has found infeasible stay infeasible; each
class keeps one such interval and never scans it again. That makes the scan amortized
linear in orders plus days per class.

Parts use the cumulative available-to-promise rule. A part is feasible on day d when
min over t >= d of avail[t] >= q, a condition that holds on a suffix of days, so the
first feasible day is one past the last day with avail < q. `avail` is kept in blocks of
days: a value per day, relative to its block, the parts taken from each block's days
(each lowers every later block) and each block's minimum of its values. "Subtract q from
day d on" touches d's block only; "last day below q" walks the blocks from the end,
summing what the blocks before each took as it goes (about sqrt(days)), and is asked
only when a lower bound of every day falls below q.

Bound codes: NONE, SHUTDOWN, then one per part, per line and per mix instance
(`bound_names` in plan.py). The kernels take two tuples of arrays:

- `st`, the state: (free[line, day], mixfree[mix, day], val, taken, bmin) with the
  parts in block form;
- `cl`, the classes (CSR): (line_ptr, lines, mix_ptr, mixes, part_ptr, parts, qty,
  prev_rel[class, day + 1], has_slots[class, day]).

Export orders then take a sailing (sea.py): `sea` holds the lanes and sailings, `ship`
the sailings' loads, departures per market and month, and skip pointers. A sailing that
is full, or whose month has reached its market's quota, stays so while orders are
placed, so each one is skipped once (union-find with path compression).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

BLOCK = 32
NONE = 0
NO_SAILING = -2
CHOOSE = -1  # a fixed order's sailing: the one the export rule chooses
SHUTDOWN = 1
FIRST_PART = 2
_BIG = np.int64(2**62)


def part_blocks(
    on_hand: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Block form (values, taken per block, block minimum) of available parts per day.

    `bmin` has one column more than there are blocks: a lower bound of every day's
    available parts (each booking of q lowers it by q). While it is >= q no day can be
    short, which spares the scan for parts that are plentiful."""
    parts, days = on_hand.shape
    nb = (days + BLOCK - 1) // BLOCK
    val = on_hand.astype(np.int64).copy()
    padded = np.full((parts, nb * BLOCK), _BIG, dtype=np.int64)
    padded[:, :days] = val
    blocks = padded.reshape(parts, nb, BLOCK).min(axis=2)
    floor = blocks.min(axis=1, initial=_BIG).reshape(parts, 1)
    return val, np.zeros((parts, nb), dtype=np.int64), np.hstack([blocks, floor])


@njit(cache=True, inline="always")
def part_threshold(val, taken, bmin, p, q, days):  # type: ignore[no-untyped-def]
    """First day d with avail[t] >= q for every t >= d (days when there is none)."""
    nb = taken.shape[1]
    if bmin[p, nb] >= q:  # the lower bound says no day is short
        return 0
    m = _BIG
    before = 0  # taken in the blocks before b
    for b in range(nb):
        m = min(m, bmin[p, b] - before)
        before += taken[p, b]
    bmin[p, nb] = m  # exact again
    if m >= q:
        return 0
    for b in range(nb - 1, -1, -1):
        before -= taken[p, b]
        if bmin[p, b] - before < q:
            lo = b * BLOCK
            for t in range(min(days, lo + BLOCK) - 1, lo - 1, -1):
                if val[p, t] - before < q:
                    return t + 1
    return 0


@njit(cache=True, inline="always")
def take_part(val, taken, bmin, p, q, d, days):  # type: ignore[no-untyped-def]
    """Subtract q from avail[t] for every t >= d: in d's block day by day, in the blocks
    after it through `taken` (values only fall, so the block's minimum is the lower of
    the old one and the new values)."""
    bmin[p, taken.shape[1]] -= q
    b0 = d // BLOCK
    m = bmin[p, b0]
    for t in range(d, min(days, b0 * BLOCK + BLOCK)):
        val[p, t] -= q
        m = min(m, val[p, t])
    bmin[p, b0] = m
    taken[p, b0] += q


@njit(cache=True, inline="always")
def _open_sailing(j, end, mk, sea, ship):  # type: ignore[no-untyped-def]
    """First sailing at or after index j (before `end`) with room under the quota."""
    cap, month, quota = sea[5], sea[6], sea[7]
    load, departed, skip = ship
    r = j
    while r < end and (load[r] >= cap[r] or departed[mk, month[r]] >= quota[mk, month[r]]):
        r = skip[r]
    while j < r:
        nxt = skip[j]
        skip[j] = r
        j = nxt
    return r


@njit(cache=True, nogil=True)
def choose_sailing(mk, d, sea, ship):  # type: ignore[no-untyped-def]
    """The sailing an order of market mk built on day d takes: on each lane the first
    one departing on or after the port date with room; the earliest arrival wins, ties
    by lane order. -1: none."""
    lane_ptr, inland, transit, sail_ptr, sail_day = sea[0], sea[1], sea[2], sea[3], sea[4]
    best = -1
    best_arrival = _BIG
    for ln in range(lane_ptr[mk], lane_ptr[mk + 1]):
        a = sail_ptr[ln]
        b = sail_ptr[ln + 1]
        j = a + np.searchsorted(sail_day[a:b], d + inland[ln])
        j = _open_sailing(j, b, mk, sea, ship)
        if j < b and sail_day[j] + transit[ln] < best_arrival:
            best = j
            best_arrival = sail_day[j] + transit[ln]
    return best


@njit(cache=True, inline="always")
def load_sailing(j, mk, sea, ship):  # type: ignore[no-untyped-def]
    ship[0][j] += 1
    ship[1][mk, sea[6][j]] += 1


@njit(cache=True, inline="always")
def search(k, r, lo, hi, st, cl, slots, n_parts, n_lines, dp):  # type: ignore[no-untyped-def]
    """Earliest feasible day >= r for class k, without taking it.

    Days in [lo, hi) are known infeasible for k. Returns (day, entry, bound, blocked):
    day == days when none fits; `entry` indexes `lines` (the line chosen), or -1;
    `blocked` is the latest relevant day before `day` that is >= r (or -1), on which
    `bound` names what failed.
    """
    free, mixfree, val, taken, bmin = st
    line_ptr, lines, mix_ptr, mixes, part_ptr, parts, qty, prev_rel, has_slots = cl
    days = free.shape[1]
    s = r
    if lo <= s and s < hi:
        s = hi
    p0 = part_ptr[k]
    np_k = part_ptr[k + 1] - p0
    for j in range(np_k):
        t = part_threshold(val, taken, bmin, parts[p0 + j], qty[p0 + j], days)
        dp[j] = t
        if t > s:
            s = t
    e0 = line_ptr[k]
    e1 = line_ptr[k + 1]
    d = s
    entry = -1
    while d < days:
        if lo <= d and d < hi:
            d = hi
            continue
        for e in range(e0, e1):
            if free[lines[e], d] > 0:
                ok = True
                for x in range(mix_ptr[e], mix_ptr[e + 1]):
                    if mixfree[mixes[x], d] <= 0:
                        ok = False
                        break
                if ok:
                    entry = e
                    break
        if entry >= 0:
            break
        d += 1
    d = min(d, days)

    b = prev_rel[k, d]
    if b < r:
        return d, entry, NONE, -1
    if not has_slots[k, b]:
        return d, entry, SHUTDOWN, b
    for j in range(np_k):
        if b < dp[j]:
            return d, entry, FIRST_PART + parts[p0 + j], b
    for e in range(e0, e1):
        if free[lines[e], b] > 0:
            for x in range(mix_ptr[e], mix_ptr[e + 1]):
                if mixfree[mixes[x], b] <= 0:
                    return d, entry, FIRST_PART + n_parts + n_lines + mixes[x], b
    for e in range(e0, e1):
        if slots[lines[e], b] > 0:
            return d, entry, FIRST_PART + n_parts + lines[e], b
    return d, entry, NONE, b


@njit(cache=True, inline="always")
def take(k, e, d, st, cl, n):  # type: ignore[no-untyped-def]
    """Book n orders of class k on line entry e, day d (every count falls by n: the
    same state as n one by one)."""
    free, mixfree, val, taken, bmin = st
    lines, mix_ptr, mixes, part_ptr, parts, qty = cl[1], cl[2], cl[3], cl[4], cl[5], cl[6]
    days = free.shape[1]
    free[lines[e], d] -= n
    for x in range(mix_ptr[e], mix_ptr[e + 1]):
        mixfree[mixes[x], d] -= n
    for j in range(part_ptr[k], part_ptr[k + 1]):
        take_part(val, taken, bmin, parts[j], qty[j] * n, d, days)


@njit(cache=True, nogil=True)
def place_fixed(  # type: ignore[no-untyped-def]
    order_cls, order_line, order_day, order_mk, order_sail, order_n, st, cl, sea, ship, out_sail
):
    """Book history and frozen orders on their own line and day (even past capacity),
    `order_n` of each (bundles of like orders at home: planner.FixedBundles). By sea,
    `order_sail` says which seat: a sailing index (that seat, even past capacity and
    quota), CHOOSE (the export rule's sailing; without one the order keeps its slot) or
    NO_SAILING (none)."""
    days = st[0].shape[1]
    line_ptr, lines, lane_ptr = cl[0], cl[1], sea[0]
    for i in range(order_cls.shape[0]):
        d = order_day[i]
        mk = order_mk[i]
        if lane_ptr[mk] < lane_ptr[mk + 1]:
            j = order_sail[i]
            if j == CHOOSE:
                j = choose_sailing(mk, d, sea, ship)
            out_sail[i] = j if j >= 0 else NO_SAILING
            if j >= 0:
                load_sailing(j, mk, sea, ship)
        if d < 0 or d >= days:
            continue
        k = order_cls[i]
        for e in range(line_ptr[k], line_ptr[k + 1]):
            if lines[e] == order_line[i]:
                take(k, e, d, st, cl, order_n[i])
                break


@njit(cache=True, nogil=True)
def place_orders(  # type: ignore[no-untyped-def]
    order_cls,
    order_rel,
    order_until,
    order_mk,
    st,
    cl,
    sea,
    ship,
    slots,
    ilo,
    ihi,
    n_parts,
    n_lines,
    max_parts,
    out,
    book,
):
    """Place orders one by one in planning order (the planning rule of SCENARIO.md).

    `out` is (day, line, bound, blocked, sailing) per order. With `book` false each
    order is only quoted against the same state. An order whose first day is not before
    its `order_until` day is left unplaced and takes nothing: a Monte Carlo future's
    order that cancels on that day while it waits (the plan passes no such day).
    """
    out_day, out_line, out_bound, out_blocked, out_sail = out
    lines, lane_ptr = cl[1], sea[0]
    days = st[0].shape[1]
    dp = np.empty(max(max_parts, 1), dtype=np.int64)
    for i in range(order_cls.shape[0]):
        k = order_cls[i]
        r = min(order_rel[i], days)
        lo = ilo[k]
        hi = ihi[k]
        d, e, bound, b = search(k, r, lo, hi, st, cl, slots, n_parts, n_lines, dp)
        if e >= 0 and d >= order_until[i]:
            e = -1  # it cancels first: gone before its day comes
        mk = order_mk[i]
        if e >= 0 and lane_ptr[mk] < lane_ptr[mk + 1]:
            j = choose_sailing(mk, d, sea, ship)
            out_sail[i] = j if j >= 0 else NO_SAILING
            if j < 0:
                e = -1  # no sailing: the order takes nothing
            elif book:
                load_sailing(j, mk, sea, ship)
        out_bound[i] = bound
        out_blocked[i] = b
        out_day[i] = d if e >= 0 else -1
        out_line[i] = lines[e] if e >= 0 else -1
        if book and r < days:
            if r <= hi and d >= lo:  # the known-infeasible days grow
                ilo[k] = min(r, lo)
                ihi[k] = max(d, hi)
            else:
                ilo[k] = r
                ihi[k] = d
            if e >= 0:
                take(k, e, d, st, cl, 1)
