"""The ROADEF 2005 day by local search, compiled with numba: swaps of two cars and moves
of one car a few places on (an insertion), and moves that keep the colour changes as they
are (swaps of two cars of one colour, reversals of part of a batch, a whole batch moved
to another batch boundary), kept when the weighted objective does not grow and no run of
one colour passes the paint batch limit.

The line is the previous day's cars (fixed) then the day's. Each ratio constraint keeps
the count of its cars in every window (the challenge's windows, see roadef.py), so a
swap is priced in O(P) per constraint the two cars differ in and a move that reorders
`m` consecutive places in O(m + P); colour changes and runs are looked at only around
the cars moved. Moves that leave the objective as it is are kept: the plateaus are wide,
and Estellon, Gardi and Nouioua (2008), who won the challenge, did the same with swaps
and insertions. Where colour changes rank first, swaps of cars of different colours
nearly always add a change; the moves within a colour are what lower HPRC there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from promiseline.core.arrays import I64
from promiseline.core.sequencing.roadef import (
    COLOR,
    HPRC,
    LPRC,
    RoadefDay,
    RoadefScore,
    file_order,
    score,
)
from promiseline.errors import InvalidRequestError

ROUND = 250_000  # tries between looks at the clock
KINDS = ("swap", "swap near", "move", "swap in colour", "reverse in batch", "move batch")
MIX = (0.2, 0.15, 0.25, 0.2, 0.1, 0.1)  # the chance of each kind of move


@njit(cache=True)
def _counts(has, p, lo, n_line):  # type: ignore[no-untyped-def]
    """Per rule and window start, the cars under the rule in the window (cut at the end)."""
    r_n = has.shape[0]
    cnt = np.zeros((r_n, n_line), dtype=np.int64)
    for r in range(r_n):
        # window s holds [s, min(s + p, n_line)); slide from the end backwards
        total = 0
        for s in range(n_line - 1, lo[r] - 1, -1):
            total += has[r, s]
            e = s + p[r]
            if e < n_line:
                total -= has[r, e]
            cnt[r, s] = total
    return cnt


@njit(cache=True)
def _cost(cnt, n, p, lo, w, col, n0, wc):  # type: ignore[no-untyped-def]
    out = 0
    n_line = col.shape[0]
    for r in range(cnt.shape[0]):
        for s in range(lo[r], n_line):
            if cnt[r, s] > n[r]:
                out += w[r] * (cnt[r, s] - n[r])
    for i in range(max(n0, 1), n_line):
        if col[i] != col[i - 1]:
            out += wc
    return out


@njit(cache=True, inline="always")
def _run_ok(col, i, limit):  # type: ignore[no-untyped-def]
    """Whether the run of one colour through position i is within the limit."""
    n_line = col.shape[0]
    c = col[i]
    k = 1
    j = i - 1
    while j >= 0 and col[j] == c:
        k += 1
        if k > limit:
            return False
        j -= 1
    j = i + 1
    while j < n_line and col[j] == c:
        k += 1
        if k > limit:
            return False
        j += 1
    return True


@njit(cache=True, inline="always")
def _changes(col, a, b, n0):  # type: ignore[no-untyped-def]
    """Colour changes on the pairs (i - 1, i) for i in [a, b] of the day."""
    out = 0
    for i in range(max(a, n0, 1), min(b, col.shape[0] - 1) + 1):
        if col[i] != col[i - 1]:
            out += 1
    return out


@njit(cache=True, inline="always")
def _pen(c, n):  # type: ignore[no-untyped-def]
    return c - n if c > n else 0


@njit(cache=True)
def _swap_delta(cnt, has, n, p, lo, w, a, b):  # type: ignore[no-untyped-def]
    """The change of the ratio cost if the cars at a < b swap."""
    out = 0
    for r in range(has.shape[0]):
        d = has[r, b] - has[r, a]
        if d == 0:
            continue
        lo_a, hi_a = max(lo[r], a - p[r] + 1), a
        lo_b, hi_b = max(lo[r], b - p[r] + 1), b
        for s in range(lo_a, hi_a + 1):
            if lo_b <= s <= hi_b:
                continue
            c = cnt[r, s]
            out += w[r] * (_pen(c + d, n[r]) - _pen(c, n[r]))
        for s in range(lo_b, hi_b + 1):
            if lo_a <= s <= hi_a:
                continue
            c = cnt[r, s]
            out += w[r] * (_pen(c - d, n[r]) - _pen(c, n[r]))
    return out


@njit(cache=True)
def _perm_delta(cnt, has, n, p, lo, w, x, m, src, diff, apply):  # type: ignore[no-untyped-def]
    """The change of the ratio cost if position x + k takes the car now at src[k] (k < m,
    a permutation of [x, x + m)); with `apply`, the window counts are updated too. O(m + P)
    per rule the cars moved differ in."""
    y = x + m - 1
    out = 0
    for r in range(has.shape[0]):
        nz = False
        for k in range(m):
            diff[k] = has[r, src[k]] - has[r, x + k]
            if diff[k] != 0:
                nz = True
        if not nz:
            continue
        diff[m] = 0  # prefix sums: diff[m + k] = diff[0] + ... + diff[k - 1]
        for k in range(m):
            diff[m + k + 1] = diff[m + k] + diff[k]
        for s in range(max(lo[r], x - p[r] + 1), y + 1):
            first = max(s, x) - x
            last = min(s + p[r] - 1, y) - x
            d = diff[m + last + 1] - diff[m + first]
            if d == 0:
                continue
            c = cnt[r, s]
            out += w[r] * (_pen(c + d, n[r]) - _pen(c, n[r]))
            if apply:
                cnt[r, s] = c + d
    return out


@njit(cache=True)
def _apply_perm(line, cls, has, x, m, src, buf):  # type: ignore[no-untyped-def]
    """Position x + k takes the car at src[k]: its identity, class and constraints."""
    for k in range(m):
        buf[k] = line[src[k]]
    for k in range(m):
        line[x + k] = buf[k]
    for k in range(m):
        buf[k] = cls[src[k]]
    for k in range(m):
        cls[x + k] = buf[k]
    for r in range(has.shape[0]):
        for k in range(m):
            buf[k] = has[r, src[k]]
        for k in range(m):
            has[r, x + k] = buf[k]


@njit(cache=True)
def _try_perm(  # type: ignore[no-untyped-def]
    line, cls, has, cnt, col, n, p, lo, w, wc, n0, limit, x, m, src, diff, buf, cbuf, accept_all
):
    """Position x + k takes the car at src[k] (k < m), if that keeps every run within the
    batch limit and (unless `accept_all`) does not raise the cost: whether it was made,
    and the change of cost."""
    y = x + m - 1
    before = _changes(col, x, y + 1, n0)
    for k in range(m):
        cbuf[k] = col[src[k]]
    for k in range(m):
        buf[k] = col[x + k]
    for k in range(m):
        col[x + k] = cbuf[k]
    after = _changes(col, x, y + 1, n0)
    ok = _runs_ok(col, x, y, limit)
    d = wc * (after - before)
    if ok:
        d += _perm_delta(cnt, has, n, p, lo, w, x, m, src, diff, False)
    if not ok or (d > 0 and not accept_all):
        for k in range(m):
            col[x + k] = buf[k]
        return False, 0
    _perm_delta(cnt, has, n, p, lo, w, x, m, src, diff, True)
    _apply_perm(line, cls, has, x, m, src, buf)
    return True, d


@njit(cache=True)
def _runs_ok(col, x, y, limit):  # type: ignore[no-untyped-def]
    """Whether every run of one colour that meets positions [x, y] is within the limit."""
    n_line = col.shape[0]
    i = x
    while i >= 1 and col[i - 1] == col[x]:
        i -= 1
    while i <= y:
        j = i
        while j + 1 < n_line and col[j + 1] == col[i]:
            j += 1
        if j - i + 1 > limit:
            return False
        i = j + 1
    return True


@njit(cache=True)
def _do_swap(line, cls, has, cnt, col, lo, p, a, b):  # type: ignore[no-untyped-def]
    """Swap the cars at a < b, their colours and the window counts."""
    col[a], col[b] = col[b], col[a]
    for r in range(has.shape[0]):
        dd = has[r, b] - has[r, a]
        if dd == 0:
            continue
        for s in range(max(lo[r], a - p[r] + 1), a + 1):
            cnt[r, s] += dd
        for s in range(max(lo[r], b - p[r] + 1), b + 1):
            cnt[r, s] -= dd
        has[r, a], has[r, b] = has[r, b], has[r, a]
    line[a], line[b] = line[b], line[a]
    cls[a], cls[b] = cls[b], cls[a]


@njit(cache=True)
def _search(line, has0, col0, cls0, n0, n, p, w, wc, limit, moves, reach, seed, mix, accept_all):  # type: ignore[no-untyped-def]
    """Improve the day (positions n0..) of `line` in place for `moves` tries; its cost and
    the moves kept per kind. `mix`: cumulative chances of the kinds (swap of any two cars,
    swap of two near, move of one car, swap of two cars of one colour, reversal of part of
    a batch, move of a whole batch to another batch boundary). `accept_all` (tests): keep
    every move that keeps the batch limit, whatever its cost."""
    np.random.seed(seed)
    n_line = line.shape[0]
    r_n = has0.shape[1]
    has = np.zeros((r_n, n_line), dtype=np.int64)
    col = np.zeros(n_line, dtype=np.int64)
    cls = np.zeros(n_line, dtype=np.int64)
    for i in range(n_line):
        col[i] = col0[line[i]]
        cls[i] = cls0[line[i]]
        for r in range(r_n):
            has[r, i] = has0[line[i], r]
    lo = np.zeros(r_n, dtype=np.int64)
    for r in range(r_n):
        lo[r] = max(0, n0 - p[r] + 1)
    cnt = _counts(has, p, lo, n_line)
    cost = _cost(cnt, n, p, lo, w, col, n0, wc)
    day = n_line - n0
    diff = np.zeros(2 * n_line + 2, dtype=np.int64)
    src = np.zeros(n_line, dtype=np.int64)
    buf = np.zeros(n_line, dtype=np.int64)
    cbuf = np.zeros(n_line, dtype=np.int64)
    kept = np.zeros(mix.shape[0], dtype=np.int64)
    if day < 2:
        return cost, kept
    for _ in range(moves):
        a = n0 + np.random.randint(day)
        u = np.random.random()
        kind = 0
        while kind < mix.shape[0] - 1 and u >= mix[kind]:
            kind += 1
        if kind <= 1:  # swap with any car of the day, or one near (of its batch, often)
            if kind == 0:
                b = n0 + np.random.randint(day)
            else:
                b = a + np.random.randint(-reach, reach + 1)
            if b < n0 or b >= n_line or a == b or cls[a] == cls[b]:
                continue
            if a > b:
                a, b = b, a
            before = _changes(col, a, a + 1, n0) + _changes(col, b, b + 1, n0)
            if b == a + 1:
                before = _changes(col, a, b + 1, n0)
            col[a], col[b] = col[b], col[a]
            ok = _run_ok(col, a, limit) and _run_ok(col, b, limit)
            after = _changes(col, a, a + 1, n0) + _changes(col, b, b + 1, n0)
            if b == a + 1:
                after = _changes(col, a, b + 1, n0)
            col[a], col[b] = col[b], col[a]
            if not ok:
                continue
            d = wc * (after - before) + _swap_delta(cnt, has, n, p, lo, w, a, b)
            if d > 0 and not accept_all:
                continue
            _do_swap(line, cls, has, cnt, col, lo, p, a, b)
            cost += d
            kept[kind] += 1
            continue
        if kind == 3:  # swap two cars of one colour: changes and runs stay as they are
            b = -1
            for _t in range(16):
                if _t % 2 == 0:
                    t = a + np.random.randint(-4 * reach, 4 * reach + 1)
                else:
                    t = n0 + np.random.randint(day)
                if n0 <= t < n_line and col[t] == col[a] and cls[t] != cls[a]:
                    b = t
                    break
            if b < 0:
                continue
            if a > b:
                a, b = b, a
            d = _swap_delta(cnt, has, n, p, lo, w, a, b)
            if d > 0 and not accept_all:
                continue
            _do_swap(line, cls, has, cnt, col, lo, p, a, b)
            cost += d
            kept[kind] += 1
            continue
        if kind == 2:  # move one car up to `reach` places on or back
            b = a + np.random.randint(-reach, reach + 1)
            if b < n0 or b >= n_line or b == a:
                continue
            x, m = min(a, b), abs(b - a) + 1
            for k in range(m):  # the car lands at b; those between close up by one
                src[k] = a if x + k == b else (x + k + 1 if a < b else x + k - 1)
        else:
            i = a  # the batch (run of one colour among the day's cars) that holds a
            while i - 1 >= n0 and col[i - 1] == col[a]:
                i -= 1
            j = a
            while j + 1 < n_line and col[j + 1] == col[a]:
                j += 1
            if kind == 4:  # reverse part of the batch: changes and runs stay as they are
                e = i + np.random.randint(j - i + 1)
                if e == a:
                    continue
                x, y = min(a, e), max(a, e)
                m = y - x + 1
                for k in range(m):
                    src[k] = y - k
            else:  # move the whole batch before the start of another batch (or to the end)
                t = a + np.random.randint(-4 * reach, 4 * reach + 1)
                if t < n0 or t > n_line:
                    continue
                if t < n_line:
                    while t - 1 >= n0 and col[t - 1] == col[t]:
                        t -= 1
                if i <= t <= j + 1:
                    continue
                if t < i:  # [t, j] becomes [i..j] + [t..i-1]
                    x, m, bl = t, j - t + 1, j - i + 1
                    for k in range(bl):
                        src[k] = i + k
                    for k in range(i - t):
                        src[bl + k] = t + k
                else:  # [i, t - 1] becomes [j+1..t-1] + [i..j]
                    x, m, rest = i, t - i, t - 1 - j
                    for k in range(rest):
                        src[k] = j + 1 + k
                    for k in range(j - i + 1):
                        src[rest + k] = i + k
        made, d = _try_perm(
            line,
            cls,
            has,
            cnt,
            col,
            n,
            p,
            lo,
            w,
            wc,
            n0,
            limit,
            x,
            m,
            src,
            diff,
            buf,
            cbuf,
            accept_all,
        )
        if made:
            cost += d
            kept[kind] += 1
    return cost, kept


def classes(day: RoadefDay) -> I64:
    """A class per car: cars of one colour and the same constraints are interchangeable."""
    key = np.concatenate([day.colors[:, None], day.options.astype(np.int64)], axis=1)
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    out: I64 = inverse.reshape(-1).astype(np.int64)
    return out


def start(day: RoadefDay) -> I64:
    """A first sequence within the batch limit and with few colour changes: whole batches
    (as many cars as the limit allows) of the colour with most cars left, never the same
    colour twice running unless no other is left; the previous day's last run counted on.
    A batch of another colour is cut short when the most common colour would otherwise
    run out of cars to split its runs. Cars of a colour in file order."""
    left: dict[int, list[int]] = {}
    for i, c in enumerate(day.colors.tolist()):
        left.setdefault(c, []).append(i)
    for q in left.values():
        q.reverse()
    last, run = -1, 0
    for c in day.prev_colors.tolist():
        run = run + 1 if c == last else 1
        last = c
    out: list[int] = []
    while len(out) < day.cars:
        order = sorted((c for c in left if left[c]), key=lambda c: (-len(left[c]), c))
        if not out and last in order and run < day.batch_limit:  # the previous day's batch
            pick, room = last, day.batch_limit - run
        else:
            pick = next((c for c in order if c != last), order[0])
            room = day.batch_limit
            run = 0
        take = min(room, len(left[pick]))
        most = order[0]
        if pick != most:  # leave enough other cars to split the most common colour's runs
            others = sum(len(q) for q in left.values()) - len(left[most])
            need = -(-len(left[most]) // day.batch_limit) - 1
            take = max(1, min(take, others - need))
        out.extend(left[pick].pop() for _ in range(take))
        run += take
        last = pick
    return np.array(out, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class RoadefSequenced:
    """A day's sequence (car indices in build order), its counts, the time and method."""

    instance: str
    sequence: I64
    score: RoadefScore
    seconds: float
    method: str


def sequence_day(
    day: RoadefDay, seconds: float = 60.0, seed: int = 0, moves: int | None = None
) -> RoadefSequenced:
    """The day's best sequence in `seconds` (or, with `moves`, after that many tries:
    the same answer on any machine): the local search from the better of the batch start
    and the file order (when that keeps the batch limit), in rounds of 250,000 tries."""
    if not seconds > 0:
        raise InvalidRequestError(f"a time limit must be above 0 s, got {seconds}")
    t0 = time.perf_counter()
    firsts = [start(day)]
    given = file_order(day)
    if score(day, given).batch_violations == 0:
        firsts.append(given)
    seq = min(firsts, key=lambda s: score(day, s).objective)
    done = 0
    rnd = seed
    while True:
        step = ROUND if moves is None else min(ROUND, moves - done)
        if step <= 0:
            break
        seq, _ = improve(day, seq, step, rnd)
        done += step
        rnd += 1
        if moves is None and time.perf_counter() - t0 >= seconds:
            break
    return RoadefSequenced(day.name, seq, score(day, seq), time.perf_counter() - t0, "local search")


def arrays(day: RoadefDay) -> tuple[I64, I64, I64, I64, I64, I64]:
    """The line's cars (previous day first), their constraints, colours and classes, and
    each rule's N, P and weight, as the compiled search takes them."""
    n0 = len(day.prev_colors)
    opts = np.concatenate([day.prev_options, day.options]).astype(np.int64)
    cols = np.concatenate([day.prev_colors, day.colors]).astype(np.int64)
    cls = np.concatenate([np.full(n0, -1, dtype=np.int64), classes(day)])
    n = np.array([r.n for r in day.rules], dtype=np.int64)
    p = np.array([r.p for r in day.rules], dtype=np.int64)
    w = np.array(
        [day.weight(HPRC) if r.high else day.weight(LPRC) for r in day.rules], dtype=np.int64
    )
    return opts.reshape(len(cols), len(day.rules)), cols, cls, n, p, w


def improve(
    day: RoadefDay, seq: npt.NDArray[np.int64], moves: int, seed: int, reach: int = 60
) -> tuple[I64, int]:
    """`seq` (car indices of the day) after `moves` tries of the search, and its weighted
    objective."""
    out, cost, _ = search(day, seq, moves, seed, reach)
    return out, cost


def search(
    day: RoadefDay,
    seq: npt.NDArray[np.int64],
    moves: int,
    seed: int,
    reach: int = 60,
    mix: tuple[float, ...] = MIX,
    accept_all: bool = False,
) -> tuple[I64, int, I64]:
    """`improve` with the chance of each kind of move given (`mix`, in the order of
    KINDS, summing to 1) and, for tests, every move kept that keeps the batch limit
    (`accept_all`); also how many moves of each kind were kept."""
    if len(mix) != len(KINDS) or abs(sum(mix) - 1) > 1e-9 or min(mix) < 0:
        raise InvalidRequestError(f"mix must give {len(KINDS)} chances summing to 1, got {mix}")
    opts, cols, cls, n, p, w = arrays(day)
    n0 = len(day.prev_colors)
    line = np.concatenate([np.arange(n0), seq + n0]).astype(np.int64)
    cost, kept = _search(
        line,
        opts,
        cols,
        cls,
        n0,
        n,
        p,
        w,
        np.int64(day.weight(COLOR)),
        np.int64(day.batch_limit),
        int(moves),
        int(reach),
        int(seed),
        np.cumsum(np.array(mix, dtype=np.float64)),
        bool(accept_all),
    )
    out: I64 = (line[n0:] - n0).astype(np.int64)
    return out, int(cost), kept.astype(np.int64)
