"""The work of a what-if and of a capacity sizing, as a job's process runs it: read the
book from the store, call the core (the same functions as `promiseline compare` and
`size`), and keep only the answer's tables (service/jobs.py keeps those, not the plans).
Top-level functions taking plain values: a job's process is spawned, not forked."""

from __future__ import annotations

from typing import Any

import polars as pl

from promiseline import api
from promiseline.core.model.orders import OrderBook
from promiseline.core.model.scenario import Scenario
from promiseline.service.jobs import Answer, Say
from promiseline.store import open_store

IN_USE = "in use"  # the name of the scenario in use in a what-if's tables
WHY_DAYS = 3.0  # a group whose median or P90 moved more is told why (Comparison.why)


def stored_book(db: str, say: Say) -> OrderBook:
    """The orders in planning, read from the store in the job's own connection."""
    say("reading the order book")
    store = open_store(db, migrate=False)
    try:
        return store.snapshot()[1]
    finally:
        store.close()


def what_if(db: str, scenario: Scenario, name: str, patched: Scenario, say: Say) -> Answer:
    """Plan the stored book on the scenario in use and on the patched one."""
    book = stored_book(db, say)
    say(f"planning {len(book):,} orders on the scenario in use and on {name}")
    cmp = api.compare_scenarios([(IN_USE, scenario), (name, patched)], book)
    why = cmp.why(WHY_DAYS)
    tables = {"waits": cmp.waits(), "why": why, "deliveries_by_month": cmp.deliveries_by_month()}
    note = None
    if not why.height:  # nothing moved enough to explain: said in words, no empty table
        del tables["why"]
        note = (
            f"No model and variant waits more than {WHY_DAYS:.0f} days longer or shorter "
            "(median or P90) under this what-if."
        )
    return Answer(tables, cmp.plans[0].scenario.now, note=note, warnings=cmp.warnings)


def sizing(db: str, scenario: Scenario, target: str, levers: tuple[str, ...], say: Say) -> Answer:
    """Least-cost capacity for a wait target on the stored book."""
    book = stored_book(db, say)
    say(f"sizing capacity for {target} (HiGHS), then checking it with the planner")
    result = api.size(scenario, book, target, levers=levers)
    return Answer(sizing_tables(result.summary()), result.plan.scenario.now, note=result.note)


def sizing_tables(sm: dict[str, Any]) -> dict[str, pl.DataFrame]:
    """A sizing's summary as the two tables its page shows and downloads."""
    facts = pl.DataFrame(
        {
            "figure": [
                "target",
                "met",
                "wait without levers (days)",
                "wait with them (days)",
                "cost",
            ],
            "value": [
                sm["target"],
                "yes" if sm["met"] else "no: the levers below are all at their maximum",
                f"{sm['baseline_days']:,.0f}",
                f"{sm['achieved_days']:,.0f}",
                f"{sm['cost']:,.0f}",
            ],
        }
    )
    levers = pl.DataFrame(
        sm["levers"], schema={"lever": pl.String, "units": pl.Int64, "start": pl.String}
    )
    return {"sizing": facts, "levers": levers}
