"""The order desk: the service's application layer, with no HTTP in it.

It takes orders (group-committed to the store), answers each customer with a queue
position and delivery window from the live plan, keeps that plan current (a debounced
background re-plan) and, in the process holding the planner lease, writes eta_changed
events when promised windows move. Planning itself is the core's: `plan` and `quote`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl

from promiseline import api
from promiseline.core.explain import Explanation
from promiseline.core.orders import canonical_options, validate_orders
from promiseline.core.plan import Plan
from promiseline.core.promise import Quote, QuoteError
from promiseline.core.scenario import Scenario
from promiseline.errors import PromiselineError
from promiseline.service.committer import GroupCommitter
from promiseline.store.records import (
    ApiKey,
    Created,
    Event,
    NewOrder,
    OrderRecord,
    Role,
    Transition,
    Transitioned,
    Window,
)
from promiseline.store.sql import SqlStore

log = logging.getLogger("promiseline.service")
Clock = Callable[[], dt.datetime]


class DeskError(PromiselineError):
    status = 400


class NotFoundError(DeskError):
    status = 404


class UnauthorizedError(DeskError):
    status = 401


class ForbiddenError(DeskError):
    status = 403


class ConflictError(DeskError):
    status = 409


class InvalidError(DeskError):
    status = 422


@dataclass(frozen=True, slots=True)
class DeskConfig:
    change_days: int = 7  # configuration changes allowed this long after locking
    refund_days: int = 7  # a locked order's deposit is refundable this long
    debounce_s: float = 1.0  # wait this long after a change before re-planning
    lease_s: float = 15.0
    max_batch: int = 2000
    webhook_url: str | None = None
    webhook_attempts: int = 5


@dataclass(frozen=True, slots=True)
class OrderView:
    """What a customer sees of an order."""

    record: OrderRecord
    window: Window | None
    bound_by: str | None
    indicative: bool  # a reserved order's window: what it would get if locked now
    events: list[Event]

    def to_json(self, token: str | None = None) -> dict[str, Any]:
        out = self.record.to_json()
        out.update(
            queue_position=self.window.queue_position if self.window else None,
            window=self.window.to_json() if self.window else None,
            window_is_indicative=self.indicative,
            bound_by=self.bound_by or None,
            events=[e.to_json() for e in self.events],
        )
        if token is not None:
            out["token"] = token
        return out


@dataclass
class LivePlan:
    """The current plan, its order index and the orders booked into it since."""

    plan: Plan
    index: dict[str, int]
    built_at: float
    appended: int = 0


@dataclass
class Stats:
    created: int = 0
    replayed: int = 0
    conflicts: int = 0
    replans: int = 0
    eta_changes: int = 0
    last_replan_s: float = 0.0
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    plan_errors: list[str] = field(default_factory=list)


def slack_days(wait_days: int) -> int:
    """Width of a delivery window: 3 days, or 5 % of the wait if more (until Monte Carlo)."""
    return max(3, math.ceil(0.05 * max(wait_days, 0)))


def window_of(
    build: dt.date | None, delivery: dt.date | None, locked: dt.date, queue_position: int | None
) -> Window | None:
    if build is None or delivery is None:
        return None
    latest = delivery + dt.timedelta(days=slack_days((delivery - locked).days))
    return Window(build, delivery, latest, queue_position)


class OrderDesk:
    """Orders in, honest windows out."""

    def __init__(
        self,
        store: SqlStore,
        scenario: Scenario,
        *,
        clock: Clock = dt.datetime.now,
        config: DeskConfig | None = None,
        holder: str | None = None,
    ) -> None:
        self.store = store
        self.scenario = scenario
        self.clock = clock
        self.config = config or DeskConfig()
        self.holder = holder or f"desk-{secrets.token_hex(4)}"
        self.stats = Stats()
        self.committer = GroupCommitter(store.write, self.config.max_batch)
        self._secret = store.set_setting(
            "token_secret", secrets.token_hex(32), only_if_missing=True
        ).encode()
        self.live = self._build_plan()
        self._dirty = asyncio.Event()
        self._replan_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._webhooks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._products = {p.model: [v.name for v in p.variants] for p in scenario.products}

    # --- lifecycle ---

    async def start(self) -> None:
        self.committer.start()
        self._tasks = [asyncio.create_task(self._replanner())]
        if self.config.webhook_url:
            self._tasks.append(asyncio.create_task(self._webhook_sender()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self.committer.stop()
        self.store.close()

    # --- tokens and keys ---

    def token(self, order_id: str) -> str:
        """The customer's secret for one order (derived, so a replay returns it again)."""
        return hmac.new(self._secret, order_id.encode(), hashlib.sha256).hexdigest()[:32]

    def check_token(self, order_id: str, token: str | None) -> None:
        if not token:
            raise UnauthorizedError("this order needs its token (X-Order-Token header or ?token=)")
        if not hmac.compare_digest(self.token(order_id).encode(), token.encode()):
            raise NotFoundError(f"no order {order_id!r} for this token")

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def create_key(self, role: Role) -> tuple[str, str]:
        if role not in ("planner", "admin"):
            raise InvalidError(f"role must be 'planner' or 'admin', got {role!r}")
        key_id = f"key_{secrets.token_hex(6)}"
        key = f"pl_{role}_{secrets.token_urlsafe(24)}"
        self.store.add_key(key_id, self.hash_key(key), role, self.clock())
        return key_id, key

    def ensure_key(self, key: str, role: Role, key_id: str) -> None:
        """Register a known key (bootstrap admin key from the environment)."""
        if self.store.find_key(self.hash_key(key)) is None:
            self.store.add_key(key_id, self.hash_key(key), role, self.clock())

    def revoke_key(self, key_id: str) -> None:
        if not self.store.revoke_key(key_id, self.clock()):
            raise NotFoundError(f"no active key {key_id!r}")

    def api_keys(self) -> list[ApiKey]:
        return self.store.api_keys()

    def role(self, key: str | None) -> Role:
        if not key:
            raise UnauthorizedError("this needs an API key (X-API-Key header)")
        found = self.store.find_key(self.hash_key(key))
        if found is None:
            raise UnauthorizedError("unknown or revoked API key")
        return found.role

    # --- planning ---

    def _build_plan(self) -> LivePlan:
        t0 = time.perf_counter()
        book = validate_orders(self.store.book(), self.scenario, source="store")
        for r in book.rejected[:5]:
            log.warning("order in store does not fit the scenario: %s", r)
        p = api.plan(self.scenario, book)
        index = {oid: i for i, oid in enumerate(p.table["order_id"].to_list())}
        self.stats.last_replan_s = time.perf_counter() - t0
        return LivePlan(p, index, time.time())

    def mark_dirty(self) -> None:
        self._dirty.set()

    async def _replanner(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout=self.config.lease_s / 3)
            except TimeoutError:
                await asyncio.to_thread(self._renew_lease)
                continue
            await asyncio.sleep(self.config.debounce_s)
            try:
                await self.replan()
            except Exception as e:  # keep serving on the last good plan
                log.exception("re-plan failed")
                self.stats.plan_errors.append(str(e))

    def _renew_lease(self) -> bool:
        return self.store.try_lease("planner", self.holder, self.clock(), self.config.lease_s)

    async def replan(self) -> dict[str, Any]:
        """Re-plan from the store now; the lease holder records windows that moved."""
        async with self._replan_lock:
            self._dirty.clear()
            live = await asyncio.to_thread(self._build_plan)
            self.live = live
            self.stats.replans += 1
            if await asyncio.to_thread(self._renew_lease):
                changes = await asyncio.to_thread(self._moved_windows, live.plan)
                self.stats.eta_changes += len(changes)
                if self.config.webhook_url:
                    for oid, w, data in changes:
                        self._webhooks.put_nowait(
                            {
                                "order_id": oid,
                                "kind": "eta_changed",
                                "window": w.to_json(),
                                "data": data,
                            }
                        )
            return self.plan_summary()

    def _moved_windows(self, p: Plan) -> list[tuple[str, Window, dict[str, Any]]]:
        """Locked and scheduled orders whose window differs from the one promised."""
        planned = p.table.filter(
            (pl.col("status") == "planned") & pl.col("build_date").is_not_null()
        ).select("order_id", "build_date", "delivery_date", "locked_at", "queue_position")
        old = self.store.promised()
        both = planned.join(old, on="order_id", how="inner")
        wait = (pl.col("delivery_date") - pl.col("locked_at").dt.date()).dt.total_days()
        slack = pl.max_horizontal(pl.lit(3), (0.05 * wait.clip(lower_bound=0)).ceil()).cast(
            pl.Int64
        )  # slack_days, vectorized
        both = both.with_columns(
            (pl.col("delivery_date") + pl.duration(days=slack)).alias("new_latest")
        ).filter(
            (pl.col("earliest") != pl.col("delivery_date")).fill_null(True)
            | (pl.col("latest") != pl.col("new_latest")).fill_null(True)
        )
        changes: list[tuple[str, Window, dict[str, Any]]] = []
        first: list[tuple[str, Window, dict[str, Any]]] = []
        for r in both.iter_rows(named=True):
            w = Window(r["build_date"], r["delivery_date"], r["new_latest"], r["queue_position"])
            if r["earliest"] is None:  # never promised (imported): a first promise, no event
                first.append((r["order_id"], w, {}))
                continue
            before = {"earliest": _iso(r["earliest"]), "latest": _iso(r["latest"])}
            changes.append((r["order_id"], w, {"from": before, "to": w.to_json()}))
        now = self.clock()
        self.store.record_windows(first, now, events=False)
        self.store.record_windows(changes, now)
        return changes

    def plan_summary(self) -> dict[str, Any]:
        sm = self.live.plan.summary()
        sm.pop("backlog", None)
        sm["plan_age_s"] = round(time.time() - self.live.built_at, 3)
        sm["booked_since_plan"] = self.live.appended
        return sm

    # --- quotes ---

    def _validate_config(self, model: str, variant: str, market: str) -> None:
        if model not in self._products:
            raise InvalidError(f"unknown model {model!r}, expected one of {sorted(self._products)}")
        if variant not in self._products[model]:
            raise InvalidError(
                f"unknown variant {variant!r} for model {model!r}, "
                f"expected one of {self._products[model]}"
            )
        markets = [m.name for m in self.scenario.markets]
        if market not in markets:
            raise InvalidError(f"unknown market {market!r}, expected one of {markets}")

    def _quote(
        self,
        model: str,
        variant: str,
        options: dict[str, str],
        market: str,
        when: dt.datetime,
        *,
        book: bool,
    ) -> tuple[Quote, Window | None]:
        # Only the event loop thread quotes and books; a re-plan builds a new LivePlan.
        live = self.live
        ahead = live.appended  # booked since the plan, all ahead of this order
        try:
            q = api.quote(live.plan, model, variant, market, options, when, book=book)
            live.appended += book
        except QuoteError:  # not at the back (clock behind the book): quote only
            q = api.quote(live.plan, model, variant, market, options, when)
            self.mark_dirty()
        position = q.queue_position + ahead if q.queue_position else None
        return q, window_of(q.build_date, q.delivery_date, when.date(), position)

    def quote(
        self, model: str, variant: str, market: str, options: dict[str, str]
    ) -> tuple[Quote, Window | None]:
        """A delivery window for an order locked now (books nothing)."""
        self._validate_config(model, variant, market)
        return self._quote(model, variant, options, market, self.clock(), book=False)

    # --- customer actions ---

    async def create(
        self,
        *,
        model: str,
        variant: str,
        market: str,
        options: dict[str, str],
        lock: bool,
        idempotency_key: str,
        actor: str = "customer",
    ) -> tuple[OrderView, bool]:
        """Take an order; (view, created). A replay of the same key returns the same order."""
        self._validate_config(model, variant, market)
        if not idempotency_key or len(idempotency_key) > 200:
            raise InvalidError("Idempotency-Key header must be 1 to 200 characters")
        canonical = canonical_options(options) or "{}"  # schema-checked: a flat mapping
        body = orjson.dumps([model, variant, market, canonical, lock])
        now = self.clock()
        q, window = self._quote(model, variant, options, market, now, book=lock)
        order = NewOrder(
            order_id=f"PL-{now:%y%m%d}-{secrets.token_hex(5).upper()}",
            idempotency_key=idempotency_key,
            body_hash=hashlib.sha256(body).hexdigest(),
            model=model,
            variant=variant,
            options=canonical,
            market=market,
            priority=0,
            status="locked" if lock else "reserved",
            created_at=now,
            locked_at=now if lock else None,
            actor=actor,
            window=window,
        )
        res = await self.committer.submit(order)
        assert isinstance(res, Created)
        if res.outcome == "conflict":
            self.stats.conflicts += 1
            raise ConflictError("Idempotency-Key was already used with a different order body")
        if res.outcome == "replayed":
            self.stats.replayed += 1
            if lock:
                self.mark_dirty()  # the slot booked for the replay is not real
            return self.view(res.order_id), False
        self.stats.created += 1
        if lock:
            self.mark_dirty()
        rec = OrderRecord(
            order.order_id,
            model,
            variant,
            canonical,
            market,
            0,
            order.status,
            now,
            order.locked_at,
            None,
            None,
            window or Window(None, None, None, None),
            now,
        )
        return OrderView(rec, window, q.bound_by, not lock, []), True

    def _record(self, order_id: str) -> OrderRecord:
        rec = self.store.get(order_id)
        if rec is None:
            raise NotFoundError(f"no order {order_id!r}")
        return rec

    async def lock(self, order_id: str) -> OrderView:
        rec = self._record(order_id)
        if rec.status == "locked":
            return self.view(order_id)
        if rec.status != "reserved":
            raise ConflictError(f"order {order_id} is {rec.status}; only a reserved order can lock")
        now = self.clock()
        _q, window = self._quote(
            rec.model, rec.variant, json.loads(rec.options), rec.market, now, book=True
        )
        await self._transition(
            Transition(
                order_id,
                "locked",
                ("reserved",),
                {"status": "locked", "locked_at": now, **_promise(window)},
                "customer",
                {"window": window.to_json() if window else None},
                now,
            )
        )
        self.mark_dirty()
        return self.view(order_id)

    async def change(
        self, order_id: str, variant: str | None, options: dict[str, str] | None
    ) -> OrderView:
        rec = self._record(order_id)
        now = self.clock()
        if rec.status == "locked":
            assert rec.locked_at is not None
            if now - rec.locked_at > dt.timedelta(days=self.config.change_days):
                raise ConflictError(
                    f"order {order_id} locked more than {self.config.change_days} "
                    "days ago; its configuration can no longer change"
                )
        elif rec.status != "reserved":
            raise ConflictError(f"order {order_id} is {rec.status}; it can no longer change")
        new_variant = variant or rec.variant
        self._validate_config(rec.model, new_variant, rec.market)
        canonical = canonical_options(options) or "{}" if options is not None else rec.options
        changes: dict[str, Any] = {"variant": new_variant, "options": canonical}
        await self._transition(
            Transition(
                order_id,
                "changed",
                (rec.status,),
                changes,
                "customer",
                {
                    "from": {"variant": rec.variant, "options": json.loads(rec.options)},
                    "to": {"variant": new_variant, "options": json.loads(canonical)},
                },
                now,
            )
        )
        if rec.status == "locked":
            self.mark_dirty()  # keeps its place (locked_at); its date follows its new parts
        return self.view(order_id)

    async def cancel(self, order_id: str) -> tuple[OrderView, bool]:
        """Cancel; returns the view and whether the deposit is refunded."""
        rec = self._record(order_id)
        if rec.status == "cancelled":
            return self.view(order_id), bool(self._refunded(order_id))
        if rec.status not in ("reserved", "locked", "scheduled"):
            raise ConflictError(f"order {order_id} is {rec.status}; it can no longer be cancelled")
        now = self.clock()
        refund = rec.status == "reserved" or (
            rec.locked_at is not None
            and now - rec.locked_at <= dt.timedelta(days=self.config.refund_days)
        )
        await self._transition(
            Transition(
                order_id,
                "cancelled",
                (rec.status,),
                {"status": "cancelled"},
                "customer",
                {"refund": refund},
                now,
            )
        )
        if rec.status != "reserved":
            self.mark_dirty()
        return self.view(order_id), refund

    def _refunded(self, order_id: str) -> bool | None:
        for e in self.store.events(order_id):
            if e.kind == "cancelled":
                return bool(e.data.get("refund"))
        return None

    async def progress(
        self, order_id: str, status: str, line: str | None, build_date: dt.date | None, actor: str
    ) -> OrderView:
        """Planner-side lifecycle: scheduled, built, shipped, delivered."""
        order = ("locked", "scheduled", "built", "shipped", "delivered")
        if status not in order[1:]:
            raise InvalidError(f"status must be one of {list(order[1:])}, got {status!r}")
        rec = self._record(order_id)
        allowed = order[: order.index(status)]
        if rec.status not in allowed:
            raise ConflictError(f"order {order_id} is {rec.status}; it cannot become {status}")
        changes: dict[str, Any] = {"status": status}
        if status == "scheduled":
            names = [ln.name for _, ln in self.scenario.lines]
            if line not in names or build_date is None:
                raise InvalidError(f"a scheduled order needs line (one of {names}) and build_date")
            changes.update(line=line, build_date=build_date)
        await self._transition(
            Transition(
                order_id,
                status,
                allowed,
                changes,
                actor,
                {k: str(v) for k, v in changes.items()},
                self.clock(),
            )
        )
        self.mark_dirty()
        return self.view(order_id)

    async def _transition(self, t: Transition) -> None:
        res = await self.committer.submit(t)
        assert isinstance(res, Transitioned)
        if res.outcome == "not_found":
            raise NotFoundError(f"no order {t.order_id!r}")
        if res.outcome == "not_allowed":
            raise ConflictError(f"order {t.order_id} changed meanwhile (now {res.status})")

    # --- reads ---

    def view(self, order_id: str, *, events: bool = True) -> OrderView:
        rec = self._record(order_id)
        evs = self.store.events(order_id) if events else []
        if rec.status == "reserved":
            opts = json.loads(rec.options)
            q, window = self._quote(
                rec.model, rec.variant, opts, rec.market, self.clock(), book=False
            )
            return OrderView(rec, window, q.bound_by, True, evs)
        if rec.status in ("locked", "scheduled"):
            live = self.live
            i = live.index.get(order_id)
            if i is not None:
                row = live.plan.table.row(i, named=True)
                if row["status"] == "planned":
                    locked = (rec.locked_at or rec.created_at).date()
                    w = window_of(
                        row["build_date"], row["delivery_date"], locked, row["queue_position"]
                    )
                    return OrderView(rec, w, row["bound_by"], False, evs)
            return OrderView(rec, rec.window if rec.window.earliest else None, None, False, evs)
        return OrderView(rec, None, None, False, evs)

    def events(self, order_id: str, after: int = 0) -> list[Event]:
        return self.store.events(order_id, after)

    def explain(self, order_id: str) -> Explanation:
        try:
            return api.explain(self.live.plan, order_id)
        except PromiselineError as e:
            raise NotFoundError(str(e)) from None

    async def replace_scenario(self, text: str) -> dict[str, Any]:
        import yaml

        from promiseline.io.scenario_file import scenario_from_dict

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InvalidError(f"scenario is not valid YAML: {e}") from None
        try:
            scenario = scenario_from_dict(data, "scenario")
        except PromiselineError as e:
            raise InvalidError(str(e)) from None
        await asyncio.to_thread(self.store.set_setting, "scenario_yaml", text)
        self.scenario = scenario
        self._products = {p.model: [v.name for v in p.variants] for p in scenario.products}
        return await self.replan()

    # --- webhooks ---

    async def _webhook_sender(self) -> None:
        import httpx

        assert self.config.webhook_url
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                event = await self._webhooks.get()
                delay = 0.2
                for attempt in range(self.config.webhook_attempts):
                    try:
                        r = await client.post(self.config.webhook_url, json=event)
                        if r.status_code < 300:
                            self.stats.webhooks_sent += 1
                            break
                    except httpx.HTTPError:
                        pass
                    if attempt + 1 == self.config.webhook_attempts:
                        self.stats.webhooks_failed += 1
                        log.warning(
                            "webhook for %s failed %d times", event["order_id"], attempt + 1
                        )
                    else:
                        await asyncio.sleep(delay)
                        delay *= 2


def _promise(window: Window | None) -> dict[str, Any]:
    if window is None:
        return {}
    return {
        "promised_build": window.build_date,
        "promised_earliest": window.earliest,
        "promised_latest": window.latest,
        "queue_position": window.queue_position,
    }


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None
