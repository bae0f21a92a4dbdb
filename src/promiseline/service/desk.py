"""The order desk: the service's application layer, with no HTTP in it.

It assembles the parts, each with one job: `Access` (tokens and keys), `Intake` (orders
in), `LivePlan` (the current plan, re-planned when the stored versions move), `EventFeed`
and `Webhooks` (notifications), over one store and one group committer. Routes call the
small methods here and never reach into the parts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import polars as pl

from promiseline import api
from promiseline.core.futures.promises import promise_window
from promiseline.core.model.lifecycle import Status
from promiseline.core.model.orders import Rejection
from promiseline.core.model.progress import Report
from promiseline.core.model.records import ApiKey, OrderFilter, OrderPage, Probe, Role
from promiseline.core.model.scenario import Scenario
from promiseline.core.model.window import Window
from promiseline.core.readout.explain import Explanation
from promiseline.core.readout.overview import Overview
from promiseline.core.sequencing.day import DaySequence
from promiseline.core.studies.whatif import check_names
from promiseline.errors import NotFoundError, PromiselineError, StorageError
from promiseline.io.scenario_file import parse_yaml
from promiseline.service import studies
from promiseline.service.access import Access, pepper_for
from promiseline.service.committer import GroupCommitter
from promiseline.service.edge import ClientLimits
from promiseline.service.intake import Intake, OrderView
from promiseline.service.jobs import Job, Jobs
from promiseline.service.live import LivePlan, stored_scenario
from promiseline.service.notify import EventFeed, Webhooks
from promiseline.service.plant import PlantSimulator
from promiseline.service.pools import Pools
from promiseline.service.settings import Settings
from promiseline.store import SqlStore

SEQUENCE_S = 2.0  # a line-day's build order on a page: the demo's busiest takes 0.01 s

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class QuoteView:
    """A quote for a new order: the window it would be told (the plan's stand-in: no
    odds), its queue position only for those allowed to see it."""

    model: str
    variant: str
    market: str
    window: Window | None
    bound_by: str | None
    reason: str | None
    as_of: dict[str, int]

    @property
    def queue_position(self) -> int | None:
        """Where it would stand in the queue (None when not shown, or no window)."""
        return self.window.queue_position if self.window is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "variant": self.variant,
            "market": self.market,
            "window": self.window.to_json() if self.window is not None else None,
            "bound_by": self.bound_by,
            "reason": self.reason,
            "as_of": self.as_of,
        }


class OrderDesk:
    """Orders in, honest windows out."""

    def __init__(
        self,
        store: SqlStore,
        settings: Settings,
        *,
        clock: Clock = dt.datetime.now,
    ) -> None:
        """Build every part (blocking: call it in a thread); the scenario is the stored
        one, as `stored_scenario` says."""
        self.store = store
        self.settings = settings
        self.clock = clock
        self.access = Access(store, pepper_for(store, settings.pepper))
        self.page_secret = store.secret("page_secret").encode()  # signs the pages' cookies
        if settings.admin_key:
            self.access.bootstrap(settings.admin_key, clock())
        holder = f"desk-{secrets.token_hex(4)}"
        self.live = LivePlan(store, stored_scenario(store, settings), settings, clock, holder)
        self.committer = GroupCommitter(store.write, settings.max_batch)
        self.pools = Pools(settings.work)  # the request path's threads, the downloads'
        # orders and their events are stamped in the plant's time (LivePlan.plant_clock)
        self.intake = Intake(
            store,
            self.committer,
            self.live,
            self.live.plant_clock,
            settings.policy,
            run=self.pools.run,
        )
        self.feed = EventFeed(store, settings, settings.poll_s)
        self.limits = ClientLimits.of(settings)  # per-client rates (service/edge.py)
        self.webhooks = Webhooks(store, settings, clock)
        self.jobs = Jobs(settings.work)
        # a plant reporting the plan's progress each day, by the route a plant takes
        self.plant = (
            PlantSimulator(self.live, self.progress, store) if settings.simulate_plant else None
        )

    async def start(self) -> None:
        self.committer.start()
        await self.live.start()
        self.feed.start()
        self.webhooks.start()
        if self.plant is not None:
            self.plant.start()

    async def stop(self) -> None:
        if self.plant is not None:
            await self.plant.stop()
        await self.jobs.stop()
        await self.webhooks.stop()
        await self.feed.stop()
        await self.live.stop()
        self.committer.stop()
        self.pools.close()
        self.store.close()

    # --- who ---

    async def role(self, key: str | None, needs: Role = "planner") -> Role:
        return await self.pools.run(self.access.require, key, needs)

    def check_token(self, order_id: str, token: str | None) -> None:
        self.access.check_token(order_id, token)

    def token(self, order_id: str) -> str:
        return self.access.token(order_id)

    async def create_key(self, role: Role) -> tuple[str, str]:
        return await self.pools.run(self.access.create_key, role, self.clock())

    async def revoke_key(self, key_id: str) -> None:
        await self.pools.run(self.access.revoke_key, key_id, self.clock())

    async def api_keys(self) -> list[ApiKey]:
        return await self.pools.run(self.access.api_keys)

    async def sign_in(self, key: str) -> ApiKey:
        """The active key behind `key` (UnauthorizedError otherwise): a page session."""
        return await self.pools.run(self.access.identify, key)

    async def open_session(self, key_id: str, seconds: int) -> str:
        """A page session for this key (its secret goes into the signed cookie)."""
        return await self.pools.run(self.access.open_session, key_id, self.clock(), seconds)

    async def session_key(self, session: str) -> ApiKey | None:
        """The key of a live session: not signed out, not expired, key not revoked."""
        return await self.pools.run(self.access.session_key, session, self.clock())

    async def end_session(self, session: str) -> None:
        await self.pools.run(self.access.end_session, session)

    async def page_link(self, order_id: str) -> str:
        """A one-time code that opens the order's page once, for a short while (a few
        per order: RateLimitedError past them)."""
        self.limits.hit("order_links", order_id)
        return await self.pools.run(self.access.page_link, order_id, self.clock())

    async def use_page_link(self, code: str, order_id: str) -> bool:
        """Does this one-time code open this order (it is used up if so)?"""
        return await self.pools.run(self.access.use_page_link, code, order_id, self.clock())

    # --- orders ---

    async def create(
        self,
        model: str,
        variant: str,
        market: str,
        options: dict[str, str],
        lock: bool,
        idempotency_key: str,
    ) -> tuple[dict[str, Any], bool]:
        """Take an order: (its JSON with the token, created or replayed)."""
        view, created = await self.intake.create(
            model, variant, market, options, lock, idempotency_key
        )
        return view.to_json(token=self.token(view.record.order_id)), created

    async def view(self, order_id: str) -> OrderView:
        return await self.intake.view(order_id)

    async def exists(self, order_id: str) -> None:
        await self.intake.record(order_id)

    async def lock(self, order_id: str) -> OrderView:
        return await self.intake.lock(order_id)

    async def change(
        self, order_id: str, variant: str | None, options: dict[str, str] | None
    ) -> OrderView:
        return await self.intake.change(order_id, variant, options)

    async def cancel(self, order_id: str) -> tuple[OrderView, bool]:
        return await self.intake.cancel(order_id)

    def lines_for(self, model: str) -> list[str]:
        """The lines that build a model, in scenario order (what a schedule may name)."""
        return [ln.name for _, ln in self.live.scenario.lines if model in ln.models]

    async def progress(self, report: Report, actor: str) -> OrderView:
        return await self.intake.progress(report, actor)

    async def correct(self, order_id: str, reason: str, actor: str) -> OrderView:
        return await self.intake.correct(order_id, reason, actor)

    def unfit(self) -> tuple[Rejection, ...]:
        """Stored orders the scenario in use does not fit (left out of the plan)."""
        return self.live.now.plan.book.rejected

    def variants(self, model: str) -> list[str]:
        """The variants a customer may change an order of `model` to."""
        return [v.name for p in self.live.scenario.products if p.model == model for v in p.variants]

    def refund_due(self, status: Status, locked_at: dt.datetime | None) -> bool:
        """Would the deposit come back if the order were cancelled now?"""
        return self.settings.policy.refund_due(status, locked_at, self.live.plant_clock())

    async def last_event_id(self) -> int:
        return await self.pools.run(self.store.last_event_id)

    async def orders(
        self, where: OrderFilter, after: str | None, limit: int, by_queue: bool = False
    ) -> OrderPage:
        return await self.pools.run(self.store.list_orders, where, after, limit, by_queue)

    def events(self, order_id: str, after: int, client: str = "") -> AsyncIterator[bytes]:
        """Server-Sent Events of one order (TooManyRequestsError past the caps per order,
        per client address and in total)."""
        return self.feed.stream(self.feed.subscribe(order_id, after, client))

    def quote(
        self, model: str, variant: str, market: str, options: dict[str, str], *, full: bool
    ) -> QuoteView:
        """The window a new order locked now would get; `full` adds its queue position."""
        self.live.scenario.check_order(model, variant, market)
        now = self.live.plant_clock()
        q = self.live.quote(model, variant, market, options, now)
        w = promise_window(q.build_date, q.delivery_date, now.date(), q.queue_position)
        if w is not None and not full:
            w = dataclasses.replace(w, queue_position=None)
        return QuoteView(model, variant, market, w, q.bound_by or None, q.reason, self.live.as_of())

    def sequenced_lines(self) -> list[str]:
        """The lines with stations: the ones a day's build order can be shown for."""
        return [ln.name for _, ln in self.live.scenario.lines if ln.stations]

    def first_build_day(self, line: str) -> dt.date | None:
        """The first day from the plan's day on which the live plan builds on `line`."""
        t = self.live.now.plan.planned
        days = t.filter((pl.col("line") == line) & (pl.col("build_date") >= self.plan_day()))
        first = days["build_date"].min()
        return first if isinstance(first, dt.date) else None

    async def sequence_day(self, line: str, day: dt.date) -> DaySequence:
        """The build order of `line` on `day` in the live plan (a few seconds at most, on
        the worker pool)."""
        return await self.pools.run(api.sequence_day, self.live.now.plan, line, day, SEQUENCE_S)

    def explain(self, order_id: str) -> Explanation:
        try:
            return api.explain(self.live.now.plan, order_id)
        except PromiselineError as e:
            raise NotFoundError(str(e)) from None

    # --- plan and scenario ---

    async def replan(self) -> dict[str, Any]:
        await self.live.replan()
        return self.live.summary()

    def plan_summary(self) -> dict[str, Any]:
        sm = self.live.summary()
        if self.plant is not None:
            sm["plant_simulator"] = self.plant.status()
        return sm

    def plan_day(self) -> dt.date:
        """The day the live plan is made as of (its scenario's `now`): what pages say."""
        return self.live.scenario.now

    async def overview(self) -> Overview:
        return await self.pools.run(self.live.overview)

    async def taken_since(self, seconds: float) -> int:
        """Orders taken in the last `seconds` (the intake rate)."""
        since = self.live.plant_clock() - dt.timedelta(seconds=seconds)
        return await self.pools.run(self.store.taken_since, since)

    def plan_row(self, order_id: str) -> dict[str, Any] | None:
        """The order's row of the current plan (bound_by, build and delivery dates)."""
        return self.live.row(order_id)

    async def orders_table(
        self, caller: str, where: OrderFilter, stop: threading.Event
    ) -> pl.DataFrame:
        """Every order the filter finds, with its window, as one table: a download, on
        the downloads' pool within the caller's share (`Pools.download`); it stops at
        the next slice of rows once `stop` is set (its client left)."""
        return await self.pools.download(caller, self.store.orders_table, where, stop)

    async def ids_bound_by(self, bound_by: str) -> list[str]:
        """Every order the current plan holds back by `bound_by`."""
        ids, _ = await self.pools.run(
            self.live.ids_bound_by, bound_by, OrderFilter(None, None, None, None), None, 10**9
        )
        return ids

    async def orders_bound_by(
        self,
        bound_by: str | None,
        where: OrderFilter,
        after: str | None,
        limit: int,
        overdue: bool = False,
    ) -> OrderPage:
        """A page of the orders the current plan holds back by `bound_by` (or, with
        `overdue`, whose scheduled day passed unbuilt), in id order."""
        ids, total = await self.pools.run(
            self.live.ids_bound_by, bound_by, where, after, limit, overdue
        )
        found = await self.pools.run(lambda: [self.store.get(i) for i in ids])
        orders = [r for r in found if r is not None]
        return OrderPage(orders, total, ids[-1] if len(ids) == limit else None)

    async def start_what_if(self, name: str, text: str, caller: str = "") -> Job:
        """Plan the live book on the scenario in use and on it patched by the YAML `text`,
        in a job's process. The caller's slot is checked first, then the patch is read and
        checked off the event loop (a bad one starts nothing; a 26 KB patch parsed on the
        loop held every request behind it)."""
        self.jobs.check_free(caller)
        scenario = self.live.scenario
        patched = await self.pools.run(_patched, scenario, name, text)
        work = partial(studies.what_if, self.settings.db, scenario, name, patched)
        return self.jobs.start("what-if", name, work, caller)

    def start_sizing(self, target: str, levers: tuple[str, ...], caller: str = "") -> Job:
        """Least-cost capacity for a wait target, in a job's process."""
        scenario = self.live.scenario
        api.check_target(target)
        api.check_sizing(scenario, levers)  # too large: refused before the job starts
        work = partial(studies.sizing, self.settings.db, scenario, target, levers)
        return self.jobs.start("sizing", target, work, caller)

    def cancel_job(self, job_id: str) -> Job:
        job = self.jobs.cancel(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r} in this worker (they are kept for a while)")
        return job

    def job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def capacity(self) -> dict[str, Any]:
        sm = api.summary(self.live.now.plan)
        out = {k: sm[k] for k in ("lines", "utilization_through", "parts", "backlog")}
        return out | {"as_of": self.live.as_of()}

    async def scenario_text(self) -> str:
        return await self.pools.run(self.live.scenario_text)

    async def replace_scenario(self, text: str) -> dict[str, Any]:
        await self.live.replace_scenario(text)
        return self.live.summary()

    # --- operations ---

    async def health(self, *, details: bool) -> tuple[bool, dict[str, Any]]:
        """(ready, body). Ready means the database answers a read now and, if writes
        have been failing, takes a real write again: readiness comes back as soon as the
        database does."""
        problem = None
        try:
            await self.pools.run(self.store.versions)
            if self.committer.failing is not None:  # the very connection intake writes with
                await self.committer.submit(Probe(self.clock()))
        except StorageError as e:
            problem = str(e)
        body: dict[str, Any] = {"ok": problem is None}
        if details and problem is not None:
            body["detail"] = f"the database is failing: {problem}"
        if details:
            body |= {
                "plan_age_s": round(time.time() - self.live.now.built_at, 3),
                "orders_in_plan": self.live.now.plan.table.height,
                "as_of": self.live.as_of(),
                "replan_failures": self.live.replan_failures,
                "last_replan_error": self.live.last_error,
            }
        return problem is None, body


def _patched(scenario: Scenario, name: str, text: str) -> Scenario:
    check_names([studies.IN_USE, name])  # its columns sit next to the scenario in use's
    return api.patched(scenario, name, parse_yaml(text, name))
