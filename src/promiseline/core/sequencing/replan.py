"""A plan whose every line-day can be sequenced: where a day's cars need empty carriers
beyond its slots, the line loses that many slots that day and the book is planned again.

The rule (README "Line sequencing", docs/SCENARIO.md `lost_slots`): plan; sequence every
line-day with stations; each day that needs `g > 0` empty carriers gets `g` more lost
slots; plan the same book again on the scenario with them; repeat until no day needs
any or `rounds` plans were made. Each step is deterministic (the plan, and a sequence
found with a fixed number of tries), so the result is too.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from promiseline.core.model.scenario import LostSlots, Scenario
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan as make_plan
from promiseline.core.sequencing.day import PlanSequence, sequence_plan
from promiseline.errors import InvalidRequestError


@dataclass(frozen=True, slots=True)
class SequencedPlan:
    """The last plan, its sequences, how many plans were made and the slots taken off
    (line, day) -> slots, over all rounds."""

    plan: Plan
    sequences: PlanSequence
    rounds: int
    lost: dict[tuple[str, dt.date], int]

    @property
    def settled(self) -> bool:
        """No line-day of the last plan needs an empty carrier beyond its slots."""
        return int(self.sequences.days["empty_carriers"].sum()) == 0


def with_lost_slots(s: Scenario, lost: Counter[tuple[str, dt.date]]) -> Scenario:
    """The scenario with `lost` slots added to its lines' `lost_slots`."""
    plants = []
    for plant in s.plants:
        lines = []
        for ln in plant.lines:
            more = tuple(
                LostSlots(date=d, slots=n) for (name, d), n in lost.items() if name == ln.name
            )
            lines.append(ln.model_copy(update={"lost_slots": ln.lost_slots + more}) if more else ln)
        plants.append(plant.model_copy(update={"lines": tuple(lines)}))
    return s.model_copy(update={"plants": tuple(plants)})


def sequenced_plan(
    first: Plan,
    rounds: int = 3,
    seconds: float = 1.0,
    say: Callable[[str], None] | None = None,
) -> SequencedPlan:
    """Sequence `first`; while a line-day needs empty carriers beyond its slots and fewer
    than `rounds` plans were made, take them off that day's slots and plan again."""
    if rounds < 1:
        raise InvalidRequestError(f"rounds must be 1 or more, got {rounds}")
    plan, lost, made = first, Counter[tuple[str, dt.date]](), 1
    while True:
        seqs = sequence_plan(plan, seconds, say)
        gaps = seqs.days.filter(pl.col("empty_carriers") > 0)
        if not gaps.height or made == rounds:
            return SequencedPlan(plan, seqs, made, dict(lost))
        for line, day, n in gaps.select("line", "day", "empty_carriers").iter_rows():
            lost[line, day] += n
        if say is not None:
            say(f"planning again without {int(gaps['empty_carriers'].sum()):,} empty carriers")
        plan = make_plan(with_lost_slots(first.scenario, lost), first.book)
        made += 1
