"""What the live plan and the Monte Carlo forecast both do with the store: read the book
and its versions in one transaction and plan it (a `Snapshot`), and store windows against
those told. Its own module so that the forecast process, which runs both, needs nothing of
the live plan (and the live plan, which starts the forecaster, imports it one way only)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from promiseline import api
from promiseline.core.futures.promises import Promises, changes
from promiseline.core.model.orders import validate_orders
from promiseline.core.model.records import Versions
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import Plan
from promiseline.store import SqlStore

log = logging.getLogger("promiseline.service")
WRITE_SLICE = 500  # windows per transaction: a few milliseconds of the write lock
WRITE_PAUSE_S = 0.002  # between two: an order's commit waiting for the lock gets it


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A plan and the versions of the book and scenario it was computed from."""

    scenario: Scenario
    plan: Plan
    index: dict[str, int]  # order id -> row of plan.table
    versions: Versions
    built_at: float  # time.time()
    seconds: float  # how long reading and planning took

    def as_of(self, booked: int) -> dict[str, int]:
        return {"book": self.versions.book, "scenario": self.versions.scenario, "booked": booked}


def plan_snapshot(
    store: SqlStore, scenario: Scenario, scenario_version: int, moment: dt.datetime | None = None
) -> Snapshot:
    """Read the book and its version in one transaction, and plan it on this scenario as
    of `moment` (None: as the scenario says)."""
    t0 = time.perf_counter()
    if moment is not None:
        scenario = scenario.replace(as_of=max(moment, _midnight(scenario.start)))
    versions, stored = store.snapshot()
    versions = Versions(versions.book, scenario_version)
    book = validate_orders(stored.table, scenario, source=stored.source)
    for r in book.rejected[:5]:
        log.warning("order in store does not fit the scenario: %s", r)
    p = api.plan(scenario, book)
    index = {oid: i for i, oid in enumerate(p.table["order_id"].to_list())}
    return Snapshot(scenario, p, index, versions, time.time(), time.perf_counter() - t0)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def store_windows(
    store: SqlStore, new: Promises, at: dt.datetime, webhooks: tuple[str, ...]
) -> int:
    """Store windows against those told (core/futures/promises.changes): first ones quietly, moved
    ones with an eta_changed event each; in slices of WRITE_SLICE orders, a short
    transaction each with a pause between, so order intake (whose commits wait for the
    database's one write lock) never waits long. Returns how many moved."""
    quiet, moved = changes(new, store.promises())
    for lo in range(0, max(len(quiet), len(moved)), WRITE_SLICE):
        if lo:
            time.sleep(WRITE_PAUSE_S)
        store.record_promises(
            Promises(quiet.frame.slice(lo, WRITE_SLICE)), moved[lo : lo + WRITE_SLICE], at, webhooks
        )
    return len(moved)
