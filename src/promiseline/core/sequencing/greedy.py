"""A first sequence built position by position, compiled with numba: at each position the
class that puts no window over capacity, and among those the one whose options are the
most in demand for the room left (the dynamic sum of utilisation rates of Gottlieb,
Puchta and Solnon 2003).

Why: a random order is a poor start where a station is almost full (the demo's wheel
station takes 1 of 2 and its January days need every other car with it): swaps of two
cars then crawl across long plateaus. Built this way, the cars a full station needs take
their turns first, and the local search starts from few violations, often none.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from promiseline.core.arrays import I64
from promiseline.core.sequencing.instance import Instance

FULL = 1e9  # the rate of an option its station takes none of (p = 0): placed last


@njit(cache=True)
def _build(counts, opt, p, q):  # type: ignore[no-untyped-def]
    k_n, r_n = opt.shape
    n = counts.sum()
    left = counts.copy()
    demand = np.zeros(r_n, dtype=np.int64)
    for k in range(k_n):
        for r in range(r_n):
            demand[r] += counts[k] * opt[k, r]
    seq = np.zeros(n, dtype=np.int64)
    for i in range(n):
        room = n - i
        best, best_over, best_rate = -1, 1 << 30, -1.0
        for k in range(k_n):
            if left[k] == 0:
                continue
            over, rate = 0, 0.0
            for r in range(r_n):
                if opt[k, r] == 0:
                    continue
                held = 0  # cars with the option among the last q - 1
                for j in range(max(0, i - q[r] + 1), i):
                    held += opt[seq[j], r]
                if held + 1 > p[r]:
                    over += 1
                rate += demand[r] * q[r] / (p[r] * room) if p[r] > 0 else FULL
            if over < best_over or (over == best_over and rate > best_rate):
                best, best_over, best_rate = k, over, rate
        seq[i] = best
        left[best] -= 1
        for r in range(r_n):
            demand[r] -= opt[best, r]
    return seq


def greedy(inst: Instance) -> I64:
    """Every car once, placed by the rule above (the same sequence every time)."""
    opt = inst.options.astype(np.int64)[:, [r.option for r in inst.rules]]
    p = np.array([r.p for r in inst.rules], dtype=np.int64)
    q = np.array([r.q for r in inst.rules], dtype=np.int64)
    out: I64 = _build(inst.counts.astype(np.int64), opt, p, q)
    return out
