"""The live plan: the plan every answer comes from, kept current for every worker.

The database counts changes to the order book and to the scenario (store/orders.py). Each
worker reads those versions every `poll_s`; when either moved, from any process, an
import or a progress update included, it re-plans from one consistent snapshot within
`debounce_s`, so all workers converge on one truth and every answer says which versions
it was computed from. Between re-plans, locked orders are booked at the back of the queue
into a `Booking` (the plan itself stays as planned). The process holding the planner
lease writes eta_changed events for windows that moved. Reading, validating and planning
run in a thread: the event loop keeps answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from promiseline import api
from promiseline.core.futures.promises import (
    Promises,
    QueueSpread,
    new_order_window,
    plan_windows,
    recalibrated_window,
)
from promiseline.core.futures.recalibrate import Margins
from promiseline.core.model.orders import Rejection
from promiseline.core.model.records import OrderFilter, Versions
from promiseline.core.model.scenario import Scenario, plant_time
from promiseline.core.model.window import Window
from promiseline.core.planning.quote import Booking, Quote
from promiseline.core.readout.overview import Overview, overview
from promiseline.errors import (
    InvalidRequestError,
    PromiselineError,
    QuoteError,
    ScenarioError,
    counted,
)
from promiseline.io.scenario_file import from_stored, read_text, scenario_from_yaml
from promiseline.service.background import cancel
from promiseline.service.forecast import Forecaster
from promiseline.service.settings import Settings
from promiseline.service.snapshot import Snapshot, plan_snapshot, store_windows
from promiseline.store import SqlStore

log = logging.getLogger("promiseline.service")
Clock = Callable[[], dt.datetime]


def stored_scenario(store: SqlStore, settings: Settings) -> tuple[Scenario, int]:
    """The scenario a worker starts on, and its version: always the one stored, so a
    restart serves what the last PUT /v1/scenario said. An empty database is seeded
    from `settings.scenario` (else the demo's), validated and planned first."""
    stored = store.scenario()
    if stored is not None:
        if settings.scenario and read_text(settings.scenario) != stored.text:
            log.warning(
                "%s: not used: %s holds a scenario (version %d), which stays in use; "
                "replace it with PUT /v1/scenario",
                settings.scenario,
                store.name,
                stored.version,
            )
        return from_stored(stored, store.name), stored.version
    if settings.scenario:
        text, source = read_text(settings.scenario), settings.scenario
    else:
        from importlib import resources

        text = resources.files("promiseline.data").joinpath("beijing-ev.yaml").read_text("utf-8")
        source = "beijing-ev.yaml (embedded)"
    scenario = scenario_from_yaml(text, source)
    plan_snapshot(store, scenario, 0, settings.as_of)  # plans with what is stored first
    return scenario, store.put_scenario(text)


def new_misfits(
    rejected: tuple[Rejection, ...], before: tuple[Rejection, ...]
) -> tuple[Rejection, ...]:
    """The stored orders a new scenario would not fit that the scenario in use does:
    one that fits neither (bad progress an old version stored) must not block putting
    the same, or a fixing, scenario."""
    known = {r.order_id for r in before}
    return tuple(r for r in rejected if r.order_id not in known)


def misfit_message(unfit: tuple[Rejection, ...], shown: int = 5) -> str:
    """A 422's words: how many, the first few with why, and how to fix them."""
    examples = "; ".join(f"order {r.order_id!r}: {r.reason}" for r in unfit[:shown])
    more = f" and {len(unfit) - shown:,} more" if len(unfit) > shown else ""
    return (
        f"scenario: {counted(len(unfit), 'stored order')} would not fit it: {examples}{more}. "
        "Keep what they need (their line, model, variant, market) in the scenario; or "
        "cancel those still queued; or put a scheduled, built, shipped or delivered one "
        "back to locked with POST /v1/orders/{order_id}/correction and report it again"
    )


class LivePlan:
    """The current plan and booking; re-plans when the stored versions move."""

    def __init__(
        self,
        store: SqlStore,
        scenario: tuple[Scenario, int],
        settings: Settings,
        clock: Clock,
        holder: str,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._started = clock()
        self.holder = holder
        self.now = plan_snapshot(store, *scenario, self._moment(scenario[0]))
        self.booking = Booking(self.now.plan)
        self.replans = 0
        self.replan_failures = 0
        self.eta_changes = 0
        self.last_error: str | None = None
        self.spread: QueueSpread | None = None  # the latest Monte Carlo's, for new orders
        self.margins: Margins | None = None  # and the recalibration its windows were told by
        self._load_spread()
        self.forecaster = Forecaster(self, settings.futures, processes=settings.forecast_processes)
        self.leader = False
        self.recording = threading.Lock()  # held by whoever writes windows
        self._due = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._overview: tuple[Snapshot, str | None, Overview] | None = None

    @property
    def scenario(self) -> Scenario:
        return self.now.scenario

    def _moment(self, scenario: Scenario) -> dt.datetime:
        """Now, at the plant: the fixed `as_of` setting, else the clock in the scenario's
        time zone. Every plan and quote is made as of it."""
        return self.settings.as_of or plant_time(self.clock(), scenario.timezone)

    def moment(self) -> dt.datetime:
        """Now, at the plant (see `_moment`)."""
        return self._moment(self.scenario)

    def plant_clock(self) -> dt.datetime:
        """Now at the plant, as orders and their events are stamped: the clock in the
        scenario's time zone (an order locked at 04:45 in Beijing is locked that day,
        whatever the machine's zone says), or, with a fixed `as_of`, that moment plus the
        time the service has run (plans stay as of it; orders keep their order)."""
        if self.settings.as_of is not None:
            return self.settings.as_of + (self.clock() - self._started)
        return plant_time(self.clock(), self.scenario.timezone)

    def day_turned(self) -> bool:
        """Has the plant's day moved on since the plan was made (past midnight)?"""
        return self._moment(self.scenario).date() > self.scenario.now

    def as_of(self) -> dict[str, int]:
        return self.now.as_of(self.booking.booked)

    # --- keeping current ---

    async def start(self) -> None:
        """Tell the windows of the plan started on (before the service takes requests:
        after an import, half a million first promises written under load held order
        intake's commits behind them for seconds), then keep the plan current."""
        await self._settle(self.now, swap=False)
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        await cancel([self._task])
        await self.forecaster.stop()

    def mark_due(self) -> None:
        """Re-plan soon even if no version moved (a booking that could not be made)."""
        self._due.set()

    async def _watch(self) -> None:
        lease_at = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), self.settings.poll_s)
            try:
                if time.monotonic() >= lease_at:
                    self.leader = await asyncio.to_thread(self._renew_lease)
                    lease_at = time.monotonic() + self.settings.lease_s / 3
                if self.leader and self.forecaster.last_versions != self.now.versions:
                    self.forecaster.due()  # no-op while a run is under way
                versions = await asyncio.to_thread(self.store.versions)
                if versions == self.now.versions and not (self._due.is_set() or self.day_turned()):
                    continue
                await asyncio.sleep(self.settings.debounce_s)  # gather the changes behind
                await self.replan()
            except Exception as e:  # keep serving on the last good plan
                self.replan_failures += 1
                self.last_error = str(e)
                log.warning("re-plan failed, still serving plan %s: %s", self.as_of(), e)
                await asyncio.sleep(self.settings.poll_s)

    def _renew_lease(self) -> bool:
        return self.store.try_lease("planner", self.holder, self.clock(), self.settings.lease_s)

    async def replan(self) -> Snapshot:
        """Re-plan from the store now (on the stored scenario if it moved)."""
        async with self._lock:
            self._due.clear()
            snap = await asyncio.to_thread(self._build)
            await self._settle(snap)
            return snap

    async def _settle(self, snap: Snapshot, *, swap: bool = True) -> None:
        """Serve this plan from now on; the lease holder tells customers what moved."""
        if swap:
            self._swap(snap)
        self.leader = await asyncio.to_thread(self._renew_lease)
        if self.leader:
            await asyncio.to_thread(self.record_windows, plan_windows(snap.plan))

    def _build(self) -> Snapshot:
        scenario, version = self.now.scenario, self.now.versions.scenario
        stored = self.store.scenario()
        if stored is not None and stored.version != version:
            version = stored.version
            scenario = from_stored(stored, self.store.name)
        self._load_spread()
        return plan_snapshot(self.store, scenario, version, self._moment(scenario))

    # --- Monte Carlo windows ---

    def _load_spread(self) -> None:
        """The spread the lease holder's last Monte Carlo stored (every worker reads it);
        none with futures=0, which promises plan stand-ins only."""
        text = self.store.spread() if self.settings.futures else None
        if text is not None:
            stored = json.loads(text)
            self.spread = QueueSpread.from_json(stored)
            if isinstance(stored, dict) and "margins" in stored:
                self.margins = Margins.from_json(stored["margins"])

    def new_window(
        self, model: str, variant: str, market: str, q: Quote, locked: dt.date
    ) -> Window | None:
        """The window of an order just taken (core/futures/promises.new_order_window),
        recalibrated as the latest Monte Carlo's windows were."""
        w = new_order_window(
            self.spread,
            model,
            variant,
            market,
            q.build_date,
            q.delivery_date,
            locked,
            q.queue_position,
        )
        return recalibrated_window(w, self.margins, locked)

    def _swap(self, snap: Snapshot) -> None:
        self.now = snap
        self.booking = Booking(snap.plan)
        self.replans += 1

    def record_windows(self, new: Promises) -> None:
        """Store windows against those told, one writer at a time (`recording`: the
        plan's and the Monte Carlo's would race on a stale read)."""
        with self.recording:
            at = self.plant_clock()
            self.eta_changes += store_windows(self.store, new, at, self.settings.webhooks)

    # --- scenario ---

    async def replace_scenario(self, text: str) -> Snapshot:
        """All or nothing: parse (aliases bounded), validate and plan the current book,
        then store; any failure leaves the old scenario live. Never on the event loop."""
        async with self._lock:
            snap = await asyncio.to_thread(self._try_scenario, text)
            await self._settle(snap)
            return snap

    def _try_scenario(self, text: str) -> Snapshot:
        scenario = scenario_from_yaml(text, "scenario")
        try:
            snap = plan_snapshot(
                self.store, scenario, self.now.versions.scenario, self._moment(scenario)
            )
        except (ScenarioError, InvalidRequestError):
            raise
        except PromiselineError as e:
            raise InvalidRequestError(f"scenario: the order book does not plan on it: {e}") from e
        except MemoryError:
            raise InvalidRequestError("scenario: too large to plan in memory") from None
        unfit = new_misfits(snap.plan.book.rejected, self.now.plan.book.rejected)
        if unfit:
            raise InvalidRequestError(misfit_message(unfit))
        left_out = snap.plan.book.rejected
        if left_out:  # misfits under the scenario in use already: they block nothing
            log.warning(
                "scenario put with %d stored order(s) it does not fit (GET /v1/plan/unfit)",
                len(left_out),
            )
        version = self.store.put_scenario(text)
        return Snapshot(
            snap.scenario,
            snap.plan,
            snap.index,
            Versions(snap.versions.book, version),
            snap.built_at,
            snap.seconds,
        )

    def scenario_text(self) -> str:
        stored = self.store.scenario()
        return stored.text if stored else ""

    # --- answers ---

    def quote(
        self, model: str, variant: str, market: str, options: dict[str, str], when: dt.datetime
    ) -> Quote:
        """The window a new order locked at `when` would get (books nothing)."""
        return self.booking.quote(model, variant, market, options, when)

    def book(
        self, model: str, variant: str, market: str, options: dict[str, str], when: dt.datetime
    ) -> Quote:
        """Book a newly locked order at the back of the queue; if the clock is behind the
        book (e.g. after an import with later lock times), quote it and re-plan soon."""
        try:
            return self.booking.book(model, variant, market, options, when)
        except QuoteError:
            self.mark_due()
            return self.booking.quote(model, variant, market, options, when)

    def row(self, order_id: str) -> dict[str, Any] | None:
        """The order's row of the current plan."""
        i = self.now.index.get(order_id)
        return self.now.plan.table.row(i, named=True) if i is not None else None

    def summary(self) -> dict[str, Any]:
        sm = api.summary(self.now.plan)
        sm.pop("backlog", None)
        sm["plan_age_s"] = round(time.time() - self.now.built_at, 3)
        sm["plan_seconds"] = round(self.now.seconds, 3)  # reading and planning it took
        sm["booked_since_plan"] = self.booking.booked
        sm["as_of"] = self.as_of()
        f = self.forecaster
        sm["monte_carlo"] = {
            "futures": f.futures,
            "runs": f.runs,
            "failures": f.failures,
            "seconds": round(f.last_seconds, 3) if f.last_seconds is not None else None,
            "as_of": (
                {"book": f.last_versions.book, "scenario": f.last_versions.scenario}
                if f.last_versions
                else None
            ),
        }
        return sm

    def ids_bound_by(
        self,
        bound_by: str | None,
        where: OrderFilter,
        after: str | None,
        limit: int,
        overdue: bool = False,
    ) -> tuple[list[str], int]:
        """A page of the ids of orders the current plan holds back by `bound_by` (or, with
        `overdue`, whose scheduled day passed unbuilt; and the other filters, a status as
        the plan's book has it), in id order, and how many match in all."""
        cond = pl.lit(value=True)
        if bound_by:
            cond &= pl.col("bound_by") == bound_by
        if overdue:
            cond &= pl.col("overdue")
        for col, value in (
            ("model", where.model),
            ("variant", where.variant),
            ("market", where.market),
        ):
            if value is not None:
                cond &= pl.col(col) == value
        plan = self.now.plan
        table = plan.table
        if where.status is not None:  # as the plan's book has it (locked, scheduled, ...)
            book_status = plan.book.table["status"].gather(pl.Series(plan.ix.astype(np.int64)))
            table = table.with_columns(book_status.alias("book_status"))
            cond &= pl.col("book_status") == where.status.value
        hits = table.filter(cond).select("order_id")
        page = hits.filter(pl.col("order_id") > after) if after else hits
        return page.sort("order_id").head(limit)["order_id"].to_list(), hits.height

    def overview(self) -> Overview:
        """The current plan's overview with the latest Monte Carlo's backlog bands (a
        third of a second on half a million orders): made again only when the plan or
        the stored bands (from whichever worker simulated) are new."""
        snap, raw = self.now, self.store.bands()
        cached = self._overview
        if cached is None or cached[0] is not snap or cached[1] != raw:
            bands = None
            if raw:
                bands = pl.read_json(io.StringIO(raw)).with_columns(
                    pl.col("date").cast(pl.String).str.to_date()
                )
            cached = self._overview = (snap, raw, overview(snap.plan, bands))
        return cached[2]

    def backlog(self) -> int:
        """Orders planned and not yet built, with those booked since."""
        p = self.now.plan
        return p.n_fixed + p.n_active + self.booking.booked
