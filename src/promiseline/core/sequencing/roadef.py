"""A ROADEF 2005 (Renault) car sequencing day, and how the challenge scores a sequence.

The day's cars each have an identity, a paint colour and the ratio constraints (`N/P`,
high or low priority) they are subject to; the cars of the previous day, already built
in a known order, come first on the line. Three objectives, in the order the instance
gives (`optimization_objectives.txt`), weigh 1,000,000, 1,000 and 1 (the challenge's
final weights): HPRC and LPRC, the cars over `N` in the windows of the high- and
low-priority ratio constraints, and COLOR, the paint colour changes. The paint batch
limit is hard: never more than that many consecutive cars of one colour.

The count is the challenge's (subject by A. Nguyen, Renault, 2005, section 1.2.3, and
the FAQ answers of 10 October 2003 on roadef.org/challenge/2005):

- a window is `P` consecutive cars of the line (the previous day's cars, then the day's)
  holding at least one car of the day; it starts no earlier than the first car of the
  previous day; the last `P - 1` windows run past the end of the day and are cut short
  there (they hold fewer than `P` cars) and still count;
- a window with `k` cars under the constraint costs `max(0, k - N)` (never negative);
- a colour change is a car of the day whose colour differs from the car before it, the
  first car compared with the previous day's last one; the previous day's own changes do
  not count.

This count reproduces, to the unit, the scores of the file order of six set-A instances
that the Renault checker gave (quoted in Guizrio/carsequencing,
test/carsequencing/SolutionValidatorTest.java; tests/io/test_roadef.py holds them).

The batch limit is read the safe way: a run of one colour that starts on the previous
day counts on (the subject does not say; a sequence that keeps it keeps the looser
reading too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from promiseline.core.arrays import I64

HPRC, COLOR, LPRC = "HPRC", "COLOR", "LPRC"
WEIGHTS = (1_000_000, 1_000, 1)  # the challenge's final weights, by rank


@dataclass(frozen=True, slots=True)
class RatioRule:
    """At most `n` of any `p` consecutive cars with the option `name` (`high`: HPRC)."""

    name: str
    n: int
    p: int
    high: bool

    def __post_init__(self) -> None:
        if not (self.n >= 0 and self.p >= 1):
            raise ValueError(f"a ratio needs N >= 0 and P >= 1, got {self.n}/{self.p}")


@dataclass(frozen=True, slots=True)
class RoadefDay:
    """One day to sequence: its cars (`ids`, `colors`, `options[car, rule]`), the previous
    day's cars in their built order, the rules, the objectives by rank and the paint
    batch limit."""

    name: str
    ids: tuple[str, ...]
    colors: I64
    options: npt.NDArray[np.bool_]
    prev_colors: I64
    prev_options: npt.NDArray[np.bool_]
    rules: tuple[RatioRule, ...]
    objectives: tuple[str, ...]
    batch_limit: int

    @property
    def cars(self) -> int:
        return len(self.ids)

    def weight(self, objective: str) -> int:
        """The weight of an objective: by its rank; 0 if the instance does not have it."""
        if objective not in self.objectives:
            return 0
        return WEIGHTS[self.objectives.index(objective)]


@dataclass(frozen=True, slots=True)
class RoadefScore:
    """A sequence's counts: cars over N (HPRC, LPRC, and per rule), colour changes, runs
    over the batch limit, and the weighted objective."""

    hprc: int
    lprc: int
    color: int
    batch_violations: int
    by_rule: tuple[int, ...]
    objective: int


def score(day: RoadefDay, sequence: npt.NDArray[np.integer]) -> RoadefScore:
    """The challenge's counts for `sequence` (car indices of the day, in build order)."""
    seq = np.asarray(sequence, dtype=np.int64)
    if len(seq) != day.cars or not np.array_equal(np.sort(seq), np.arange(day.cars)):
        raise ValueError("a sequence must hold every car of the day once")
    n0 = len(day.prev_colors)
    by_rule = []
    for r, rule in enumerate(day.rules):
        has = np.concatenate([day.prev_options[:, r], day.options[seq, r]]).astype(np.int64)
        run = np.concatenate([[0], np.cumsum(has)])
        starts = np.arange(max(0, n0 - rule.p + 1), len(has))
        ends = np.minimum(starts + rule.p, len(has))
        by_rule.append(int(np.maximum(run[ends] - run[starts] - rule.n, 0).sum()))
    hprc = sum(c for c, rule in zip(by_rule, day.rules, strict=True) if rule.high)
    lprc = sum(c for c, rule in zip(by_rule, day.rules, strict=True) if not rule.high)
    line = np.concatenate([day.prev_colors, day.colors[seq]])
    color = int((line[max(n0, 1) :] != line[max(n0, 1) - 1 : -1]).sum()) if len(line) else 0
    batch = 0
    run_len = 0
    for i, c in enumerate(line):
        run_len = run_len + 1 if i and c == line[i - 1] else 1
        if i >= n0 and run_len == day.batch_limit + 1:
            batch += 1
    objective = day.weight(HPRC) * hprc + day.weight(COLOR) * color + day.weight(LPRC) * lprc
    return RoadefScore(hprc, lprc, color, batch, tuple(by_rule), objective)


def file_order(day: RoadefDay) -> I64:
    """The day's cars in the order of vehicles.txt (the order Renault's checker scored)."""
    return np.arange(day.cars, dtype=np.int64)
