"""The planner's inner loops, compiled with numba.

Orders are grouped in classes: orders that need the same lines, parts and mix limits.
Feasibility only ever shrinks while orders are placed (slots, mix room and available
parts only go down), so the days a class has found infeasible stay infeasible; each
class keeps one such interval and never scans it again. That makes the scan amortized
linear in orders plus days per class.

Parts use the cumulative available-to-promise rule. A part is feasible on day d when
min over t >= d of avail[t] >= q, a condition that holds on a suffix of days, so the
first feasible day is one past the last day with avail < q. `avail` is kept in blocks
with a lazy add and a block minimum, so "subtract q from day d on" and "last day below
q" each cost about sqrt(days).

Bound codes: NONE, SHUTDOWN, then one per part, per line and per mix instance
(see `BoundCodes` in planner.py).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

BLOCK = 32
NONE = 0
SHUTDOWN = 1
FIRST_PART = 2
_BIG = np.int64(2**62)


def part_blocks(
    on_hand: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Block form (values, lazy add, block minimum) of available parts per day."""
    parts, days = on_hand.shape
    nb = (days + BLOCK - 1) // BLOCK
    val = on_hand.astype(np.int64).copy()
    padded = np.full((parts, nb * BLOCK), _BIG, dtype=np.int64)
    padded[:, :days] = val
    bmin = padded.reshape(parts, nb, BLOCK).min(axis=2)
    return val, np.zeros((parts, nb), dtype=np.int64), bmin


@njit(cache=True, inline="always")
def part_threshold(val, lazy, bmin, p, q, days):  # type: ignore[no-untyped-def]
    """First day d with avail[t] >= q for every t >= d (days when there is none)."""
    for b in range(lazy.shape[1] - 1, -1, -1):
        if bmin[p, b] < q:
            lo = b * BLOCK
            z = lazy[p, b]
            for t in range(min(days, lo + BLOCK) - 1, lo - 1, -1):
                if val[p, t] + z < q:
                    return t + 1
    return 0


@njit(cache=True, inline="always")
def take_part(val, lazy, bmin, p, q, d, days):  # type: ignore[no-untyped-def]
    """Subtract q from avail[t] for every t >= d."""
    b0 = d // BLOCK
    lo = b0 * BLOCK
    hi = min(days, lo + BLOCK)
    for t in range(d, hi):
        val[p, t] -= q
    m = _BIG
    for t in range(lo, hi):
        m = min(m, val[p, t])
    bmin[p, b0] = m + lazy[p, b0]
    for b in range(b0 + 1, lazy.shape[1]):
        lazy[p, b] -= q
        bmin[p, b] -= q


@njit(cache=True)
def search(  # type: ignore[no-untyped-def]
    k,
    r,
    lo,
    hi,
    free,
    mixfree,
    slots,
    val,
    lazy,
    bmin,
    line_ptr,
    lines,
    mix_ptr,
    mixes,
    part_ptr,
    parts,
    qty,
    prev_rel,
    has_slots,
    n_parts,
    n_lines,
    dp,
):
    """Earliest feasible day >= r for class k, without taking it.

    Returns (day, entry, bound, blocked): day == days when none fits; `entry` indexes
    `lines` (the line chosen), or -1; `blocked` is the latest relevant day before `day`
    that is >= r (or -1), on which `bound` names what failed.
    """
    days = free.shape[1]
    s = r
    if lo <= s and s < hi:
        s = hi
    p0 = part_ptr[k]
    np_k = part_ptr[k + 1] - p0
    for j in range(np_k):
        t = part_threshold(val, lazy, bmin, parts[p0 + j], qty[p0 + j], days)
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
            ln = lines[e]
            if free[ln, d] > 0:
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
    if d > days:
        d = days
    b = prev_rel[k, d]
    bound = NONE
    if b < r:
        return d, entry, bound, -1
    if not has_slots[k, b]:
        return d, entry, SHUTDOWN, b
    for j in range(np_k):
        if b < dp[j]:
            return d, entry, FIRST_PART + parts[p0 + j], b
    for e in range(e0, e1):
        ln = lines[e]
        if free[ln, b] > 0:
            for x in range(mix_ptr[e], mix_ptr[e + 1]):
                if mixfree[mixes[x], b] <= 0:
                    return d, entry, FIRST_PART + n_parts + n_lines + mixes[x], b
    for e in range(e0, e1):
        ln = lines[e]
        if slots[ln, b] > 0:
            return d, entry, FIRST_PART + n_parts + ln, b
    return d, entry, bound, b


@njit(cache=True)
def take(  # type: ignore[no-untyped-def]
    k, e, d, free, mixfree, val, lazy, bmin, lines, mix_ptr, mixes, part_ptr, parts, qty
):
    """Book one order of class k on line entry e, day d."""
    days = free.shape[1]
    free[lines[e], d] -= 1
    for x in range(mix_ptr[e], mix_ptr[e + 1]):
        mixfree[mixes[x], d] -= 1
    for j in range(part_ptr[k], part_ptr[k + 1]):
        take_part(val, lazy, bmin, parts[j], qty[j], d, days)


@njit(cache=True)
def place_fixed(  # type: ignore[no-untyped-def]
    order_cls,
    order_line,
    order_day,
    free,
    mixfree,
    val,
    lazy,
    bmin,
    line_ptr,
    lines,
    mix_ptr,
    mixes,
    part_ptr,
    parts,
    qty,
):
    """Book frozen orders on their own line and day (even past capacity)."""
    days = free.shape[1]
    for i in range(order_cls.shape[0]):
        d = order_day[i]
        if d < 0 or d >= days:
            continue
        k = order_cls[i]
        for e in range(line_ptr[k], line_ptr[k + 1]):
            if lines[e] == order_line[i]:
                take(
                    k,
                    e,
                    d,
                    free,
                    mixfree,
                    val,
                    lazy,
                    bmin,
                    lines,
                    mix_ptr,
                    mixes,
                    part_ptr,
                    parts,
                    qty,
                )
                break


@njit(cache=True)
def allocate(  # type: ignore[no-untyped-def]
    order_cls,
    order_rel,
    free,
    mixfree,
    slots,
    val,
    lazy,
    bmin,
    line_ptr,
    lines,
    mix_ptr,
    mixes,
    part_ptr,
    parts,
    qty,
    prev_rel,
    has_slots,
    ilo,
    ihi,
    n_parts,
    n_lines,
    max_parts,
    out_day,
    out_line,
    out_bound,
    out_blocked,
):
    """Place orders one by one in planning order (the planning rule of SCENARIO.md)."""
    days = free.shape[1]
    dp = np.empty(max(max_parts, 1), dtype=np.int64)
    for i in range(order_cls.shape[0]):
        k = order_cls[i]
        r = order_rel[i]
        if r >= days:
            out_day[i] = -1
            out_line[i] = -1
            out_bound[i] = NONE
            out_blocked[i] = -1
            continue
        lo = ilo[k]
        hi = ihi[k]
        d, e, bound, b = search(
            k,
            r,
            lo,
            hi,
            free,
            mixfree,
            slots,
            val,
            lazy,
            bmin,
            line_ptr,
            lines,
            mix_ptr,
            mixes,
            part_ptr,
            parts,
            qty,
            prev_rel,
            has_slots,
            n_parts,
            n_lines,
            dp,
        )
        if r <= hi and d >= lo:
            ilo[k] = min(r, lo)
            ihi[k] = max(d, hi)
        else:
            ilo[k] = r
            ihi[k] = d
        out_bound[i] = bound
        out_blocked[i] = b
        if e < 0:
            out_day[i] = -1
            out_line[i] = -1
            continue
        out_day[i] = d
        out_line[i] = lines[e]
        take(k, e, d, free, mixfree, val, lazy, bmin, lines, mix_ptr, mixes, part_ptr, parts, qty)


@njit(cache=True)
def search_many(  # type: ignore[no-untyped-def]
    order_cls,
    order_rel,
    free,
    mixfree,
    slots,
    val,
    lazy,
    bmin,
    line_ptr,
    lines,
    mix_ptr,
    mixes,
    part_ptr,
    parts,
    qty,
    prev_rel,
    has_slots,
    ilo,
    ihi,
    n_parts,
    n_lines,
    max_parts,
    out_day,
    out_line,
    out_bound,
    out_blocked,
):
    """Quote each order against the same state, booking nothing."""
    days = free.shape[1]
    dp = np.empty(max(max_parts, 1), dtype=np.int64)
    for i in range(order_cls.shape[0]):
        k = order_cls[i]
        r = min(order_rel[i], days)
        d, e, bound, b = search(
            k,
            r,
            ilo[k],
            ihi[k],
            free,
            mixfree,
            slots,
            val,
            lazy,
            bmin,
            line_ptr,
            lines,
            mix_ptr,
            mixes,
            part_ptr,
            parts,
            qty,
            prev_rel,
            has_slots,
            n_parts,
            n_lines,
            dp,
        )
        out_day[i] = d if e >= 0 else -1
        out_line[i] = lines[e] if e >= 0 else -1
        out_bound[i] = bound
        out_blocked[i] = b
