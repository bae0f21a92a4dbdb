"""The plant simulator (`serve --simulate-plant`): a demo service left running stays true.

Each time the plant's day turns, the day that ended is reported as a plant working as the
plan says would report it (`api.plant_day`: cars built with the scenario's uptime,
shipped when their sailing departs, delivered on their day), through the very path a
plant's `POST /v1/orders/{id}/progress` takes (the desk's `progress`, actor
`plant-simulator`): the same checks, events, re-plans and windows follow.

- The last day reported is kept in the database, so a restart reports the days it missed
  (at most CATCH_UP_DAYS, the latest; older ones are skipped with a warning). The first
  start on a database reports from the day it starts on: the book is taken to be true up
  to then (`promiseline import demo` rolls it so).
- A day is planned as of that day: the live plan if it is as of that day (the day just
  ended, before the midnight re-plan), else the stored book planned as of it.
- With several workers only the holder of the `plant` lease reports; the same report
  twice changes nothing, and a day reported again draws the same uptimes and counts
  what it built already first, so it builds no car twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence

from promiseline import api
from promiseline.core.futures.plant import PlantDay
from promiseline.core.model.progress import Report
from promiseline.errors import PromiselineError, StorageError
from promiseline.service.background import cancel
from promiseline.service.live import LivePlan
from promiseline.service.snapshot import Snapshot, plan_snapshot
from promiseline.store import SqlStore

log = logging.getLogger("promiseline.service")
ACTOR = "plant-simulator"
LEASE = "plant"
SEED = 0  # the plant's luck: each day draws from (SEED, the day)
CATCH_UP_DAYS = 14  # the most days reported at once after a pause
CHUNK = 200  # reports in flight at once (the group committer gathers them)

Reporter = Callable[[Report, str], Awaitable[object]]


class PlantSimulator:
    """Reports each day that ends as the plan says, through `report` (desk.progress)."""

    def __init__(self, live: LivePlan, report: Reporter, store: SqlStore) -> None:
        self.live = live
        self.report = report
        self.store = store
        self.through: dt.date | None = None  # the last day reported, as last read
        self.days = 0  # days reported by this process, and what they said
        self.counts = dict.fromkeys(("built", "shipped", "delivered", "slipped"), 0)
        self.refused = 0  # reports the progress rule turned down (the order moved on)
        self.failures = 0
        self.last: PlantDay | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel([self._task])

    async def _run(self) -> None:
        settings = self.live.settings
        while True:
            try:
                await self.catch_up()
            except Exception as e:  # try again on the next pass
                self.failures += 1
                log.warning("plant simulator: %s", e)
                await asyncio.sleep(settings.lease_s / 3)
            await asyncio.sleep(settings.poll_s)

    async def catch_up(self) -> int:
        """Report every day that ended since the last one reported (the latest
        CATCH_UP_DAYS of them); how many days this reported."""
        yesterday = self.live.moment().date() - dt.timedelta(days=1)
        if self.through is not None and self.through >= yesterday:
            return 0
        self.through = await asyncio.to_thread(self.store.plant_through)
        if self.through is not None and self.through >= yesterday:
            return 0  # another worker reported it
        if not await asyncio.to_thread(self._lease):
            return 0
        if self.through is None:  # the first start here: true up to today
            self.through = await asyncio.to_thread(self.store.begin_plant, yesterday)
            log.info("plant simulator: reports from %s on", self.through + dt.timedelta(days=1))
        first = self.through + dt.timedelta(days=1)
        behind = (yesterday - self.through).days
        if behind > CATCH_UP_DAYS:
            first = yesterday - dt.timedelta(days=CATCH_UP_DAYS - 1)
            log.warning(
                "plant simulator: %d days were not reported (%s to %s): only the last %d are",
                behind - CATCH_UP_DAYS,
                self.through + dt.timedelta(days=1),
                first - dt.timedelta(days=1),
                CATCH_UP_DAYS,
            )
        done = 0
        day = first
        while day <= yesterday:
            if done and not await asyncio.to_thread(self._lease):
                return done  # another worker took over
            await self.simulate(day)
            await asyncio.to_thread(self.store.put_plant_through, day)
            self.through = day
            done += 1
            day += dt.timedelta(days=1)
        return done

    def _lease(self) -> bool:
        s = self.live.settings
        return self.store.try_lease(LEASE, self.live.holder, self.live.clock(), s.lease_s)

    async def simulate(self, day: dt.date) -> PlantDay:
        """Report `day` (whose close has passed) as the plan made as of it says."""
        snap = self.live.now
        if snap.scenario.now != day:
            snap = await asyncio.to_thread(self._as_of, snap, day)
        result = await asyncio.to_thread(api.plant_day, snap.plan, day, seed=SEED)
        for stage in (result.built, result.shipped, result.delivered):
            await self._apply(stage)
        self.days += 1
        for name, n in (
            ("built", len(result.built)),
            ("shipped", len(result.shipped)),
            ("delivered", len(result.delivered)),
            ("slipped", result.slipped),
        ):
            self.counts[name] += n
        self.last = result
        log.info("plant simulator: %s", result.text())
        return result

    def _as_of(self, snap: Snapshot, day: dt.date) -> Snapshot:
        """The stored book planned as of `day` on the scenario in use."""
        moment = dt.datetime.combine(day, dt.time())
        return plan_snapshot(self.store, snap.scenario, snap.versions.scenario, moment)

    async def _apply(self, reports: Sequence[Report]) -> None:
        """One stage's reports (each order at most once), CHUNK at a time."""
        for lo in range(0, len(reports), CHUNK):
            await asyncio.gather(*(self._one(r) for r in reports[lo : lo + CHUNK]))

    async def _one(self, r: Report) -> None:
        try:
            await self.report(r, ACTOR)
        except StorageError:
            raise
        except PromiselineError as e:  # e.g. cancelled, or reported otherwise meanwhile
            self.refused += 1
            log.info("plant simulator: %s %s not reported: %s", r.order_id, r.status.value, e)

    def status(self) -> dict[str, object]:
        """What the summary shows of it."""
        return {
            "through": self.through.isoformat() if self.through else None,
            "days": self.days,
            **self.counts,
            "refused": self.refused,
            "failures": self.failures,
            "last": self.last.text() if self.last else None,
        }
