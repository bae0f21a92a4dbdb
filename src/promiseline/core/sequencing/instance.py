"""One line-day to sequence, and how a sequence is scored.

A station that fits an option can take at most `p` cars with it in any `q` consecutive
cars (a rule `p/q`). A violation is a window of `q` consecutive cars of the sequence
holding more than `p` cars with the option (CSPLib's count: Gottlieb, Puchta and Solnon
2003 and the best-known results quote it); `excess` also counts how many cars over `p`
each such window holds (the count ROADEF 2005 charged, over full windows here). Only
full windows count: a sequence of n cars has n - q + 1 windows per rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from promiseline.core.arrays import I64


@dataclass(frozen=True, slots=True)
class Rule:
    """At most `p` cars with `option` in any `q` consecutive cars."""

    option: int
    p: int
    q: int

    def __post_init__(self) -> None:
        if not 0 <= self.p < self.q:
            raise ValueError(f"a rule needs 0 <= p < q, got p={self.p}, q={self.q}")


@dataclass(frozen=True, slots=True)
class Instance:
    """Cars by class: how many of each (`counts`) and which options each class has
    (`options[class, option]`), under `rules`."""

    name: str
    counts: I64
    options: npt.NDArray[np.bool_]
    rules: tuple[Rule, ...]

    @property
    def cars(self) -> int:
        return int(self.counts.sum())

    def demand(self) -> I64:
        """Cars that need each option."""
        out: I64 = (self.counts[:, None] * self.options).sum(axis=0).astype(np.int64)
        return out


@dataclass(frozen=True, slots=True)
class Score:
    """A sequence's violations per rule: windows over capacity and cars over it."""

    windows: tuple[int, ...]
    excess: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.windows)


def score(inst: Instance, sequence: npt.NDArray[np.integer]) -> Score:
    """The violations of `sequence` (a class per position), every window counted."""
    seq = np.asarray(sequence, dtype=np.int64)
    if len(seq) != inst.cars or not np.array_equal(
        np.bincount(seq, minlength=len(inst.counts)), inst.counts
    ):
        raise ValueError("a sequence must hold every car of the instance once")
    windows, excess = [], []
    for r in inst.rules:
        has = inst.options[seq, r.option].astype(np.int64)
        if len(has) < r.q:  # no full window
            windows.append(0)
            excess.append(0)
            continue
        run = np.convolve(has, np.ones(r.q, dtype=np.int64), mode="valid")
        over = np.maximum(run - r.p, 0)
        windows.append(int((over > 0).sum()))
        excess.append(int(over.sum()))
    return Score(tuple(windows), tuple(excess))
