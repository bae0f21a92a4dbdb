"""The sequence by local search, compiled with numba: swaps of two cars, kept when they
add no violation, most of them drawn around a window over capacity.

Each rule keeps the count of cars with its option in every window; a swap changes only
the windows that hold one of the two positions and not the other, so a move is priced
in O(q) per rule whose option the two cars differ in, and millions are tried a second.
Accepting moves that leave the count as it is (sideways) lets the search cross the
plateaus these instances are full of (Gottlieb, Puchta and Solnon 2003; Estellon, Gardi
and Nouioua 2008 did the same with great effect). The windows over capacity are kept in a
list updated with every swap, so one is drawn in constant time however few are left.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from promiseline.core.arrays import I64
from promiseline.core.sequencing.instance import Instance


@njit(cache=True)
def _windows(has, p, q, n):  # type: ignore[no-untyped-def]
    """Counts per rule and window, and how many windows are over capacity."""
    r_n = has.shape[0]
    cnt = np.zeros((r_n, n), dtype=np.int64)
    cost = 0
    for r in range(r_n):
        run = 0
        for i in range(n):
            run += has[r, i]
            if i >= q[r]:
                run -= has[r, i - q[r]]
            if i >= q[r] - 1:
                s = i - q[r] + 1
                cnt[r, s] = run
                if run > p[r]:
                    cost += 1
    return cnt, cost


@njit(cache=True, inline="always")
def _delta(cnt, has, p, q, n, a, b):  # type: ignore[no-untyped-def]
    """The change in violated windows if the cars at a < b swap."""
    out = 0
    for r in range(has.shape[0]):
        d = has[r, b] - has[r, a]
        if d == 0:
            continue
        last = n - q[r]
        lo_a, hi_a = max(0, a - q[r] + 1), min(a, last)
        lo_b, hi_b = max(0, b - q[r] + 1), min(b, last)
        for s in range(lo_a, hi_a + 1):
            if lo_b <= s <= hi_b:
                continue
            c = cnt[r, s]
            out += (c + d > p[r]) - (c > p[r])
        for s in range(lo_b, hi_b + 1):
            if lo_a <= s <= hi_a:
                continue
            c = cnt[r, s]
            out += (c - d > p[r]) - (c > p[r])
    return out


@njit(cache=True, inline="always")
def _mark(vr, vs, at, nv, r, s, over):  # type: ignore[no-untyped-def]
    """Keep window (r, s) in the list of windows over capacity, or out of it."""
    i = at[r, s]
    if over and i < 0:
        vr[nv] = r
        vs[nv] = s
        at[r, s] = nv
        return nv + 1
    if not over and i >= 0:
        nv -= 1
        vr[i], vs[i] = vr[nv], vs[nv]
        at[vr[i], vs[i]] = i
        at[r, s] = -1
    return nv


@njit(cache=True, inline="always")
def _swap(seq, cnt, has, p, q, n, a, b, vr, vs, at, nv):  # type: ignore[no-untyped-def]
    for r in range(has.shape[0]):
        d = has[r, b] - has[r, a]
        if d == 0:
            continue
        last = n - q[r]
        for s in range(max(0, a - q[r] + 1), min(a, last) + 1):
            cnt[r, s] += d
            nv = _mark(vr, vs, at, nv, r, s, cnt[r, s] > p[r])
        for s in range(max(0, b - q[r] + 1), min(b, last) + 1):
            cnt[r, s] -= d
            nv = _mark(vr, vs, at, nv, r, s, cnt[r, s] > p[r])
        has[r, a], has[r, b] = has[r, b], has[r, a]
    seq[a], seq[b] = seq[b], seq[a]
    return nv


@njit(cache=True)
def _search(seq, opt, p, q, moves, seed, noise):  # type: ignore[no-untyped-def]
    """Improve `seq` in place for up to `moves` tries; the best sequence and its count."""
    np.random.seed(seed)
    n = seq.shape[0]
    r_n = opt.shape[1]
    has = np.zeros((r_n, n), dtype=np.int64)
    for i in range(n):
        for r in range(r_n):
            has[r, i] = opt[seq[i], r]
    cnt, cost = _windows(has, p, q, n)
    vr = np.zeros(r_n * n, dtype=np.int64)  # the windows over capacity, as a list
    vs = np.zeros(r_n * n, dtype=np.int64)
    at = np.full((r_n, n), -1, dtype=np.int64)
    nv = 0
    for r in range(r_n):
        for s in range(n - q[r] + 1):
            nv = _mark(vr, vs, at, nv, r, s, cnt[r, s] > p[r])
    best = seq.copy()
    best_cost = cost
    for _ in range(moves):
        if nv == 0:
            break
        if np.random.random() < 0.8:  # a car of a window over capacity
            j = np.random.randint(nv)
            a = vs[j] + np.random.randint(q[vr[j]])
        else:
            a = np.random.randint(n)
        b = np.random.randint(n)
        if a == b or seq[a] == seq[b]:
            continue
        if a > b:
            a, b = b, a
        d = _delta(cnt, has, p, q, n, a, b)
        if d <= 0 or (d == 1 and np.random.random() < noise):
            nv = _swap(seq, cnt, has, p, q, n, a, b, vr, vs, at, nv)
            cost += d
            if cost < best_cost:
                best_cost = cost
                best[:] = seq
    return best, best_cost


def start(inst: Instance, seed: int) -> I64:
    """A first sequence: every car once, in a random order."""
    rng = np.random.default_rng(seed)
    seq = np.repeat(np.arange(len(inst.counts)), inst.counts).astype(np.int64)
    rng.shuffle(seq)
    return seq


def search(
    inst: Instance,
    moves: int = 2_000_000,
    seed: int = 0,
    noise: float = 0.0,
    first: I64 | None = None,
) -> tuple[I64, int]:
    """The best sequence local search finds in `moves` tries from `first` (else a random
    order), and its violations."""
    seq = start(inst, seed) if first is None else np.array(first, dtype=np.int64)
    opt: npt.NDArray[np.int64] = inst.options.astype(np.int64)[:, [r.option for r in inst.rules]]
    p = np.array([r.p for r in inst.rules], dtype=np.int64)
    q = np.array([r.q for r in inst.rules], dtype=np.int64)
    best, cost = _search(seq, opt, p, q, int(moves), int(seed), float(noise))
    return best, int(cost)
