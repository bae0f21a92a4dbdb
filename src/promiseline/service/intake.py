"""Intake: orders in (create, lock, change, cancel, progress) and what a customer sees of
one. Every write goes through the group committer and is answered only once stored; the
lifecycle rules are the core's (core/model/lifecycle.py), the windows the live plan's."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from promiseline.core.futures.promises import promise_window
from promiseline.core.model.lifecycle import (
    CANCELLABLE,
    QUEUED,
    EventKind,
    Policy,
    Status,
)
from promiseline.core.model.orders import canonical_options
from promiseline.core.model.progress import Report, check, correction, standing, transition
from promiseline.core.model.records import (
    Created,
    Event,
    NewOrder,
    OrderRecord,
    Transition,
    Transitioned,
)
from promiseline.core.model.window import PLAN, Window
from promiseline.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OrderError,
    TransitionError,
)
from promiseline.service.committer import GroupCommitter
from promiseline.service.live import LivePlan
from promiseline.store import SqlStore

Clock = Callable[[], dt.datetime]
MIN_KEY, MAX_KEY = 16, 200


@dataclass(frozen=True, slots=True)
class OrderView:
    """What a customer sees of an order, and the plan versions it was computed from."""

    record: OrderRecord
    window: Window | None
    bound_by: str | None
    indicative: bool  # a reserved order's window: what it would get if locked now
    events: list[Event]
    as_of: dict[str, int]

    def to_json(self, token: str | None = None) -> dict[str, Any]:
        out = self.record.to_json()
        out.update(
            queue_position=self.window.queue_position if self.window else None,
            window=self.window.to_json() if self.window else None,
            window_is_indicative=self.indicative,
            bound_by=self.bound_by or None,
            events=[e.to_json() for e in self.events],
            as_of=self.as_of,
        )
        if token is not None:
            out["token"] = token
        return out


Run = Callable[..., Awaitable[Any]]


class Intake:
    """Customer and plant actions on orders."""

    def __init__(
        self,
        store: SqlStore,
        committer: GroupCommitter,
        live: LivePlan,
        clock: Clock,
        policy: Policy,
        *,
        run: Run = asyncio.to_thread,
    ) -> None:
        self.store = store
        self.committer = committer
        self.live = live
        self.clock = clock
        self.policy = policy
        self.run = run  # the request path's reads (the desk's own pool: service/pools.py)

    def _check(self, model: str, variant: str, market: str, options: object) -> str:
        """The order's canonical options, once the scenario accepts the order."""
        self.live.scenario.check_order(model, variant, market)
        canonical = canonical_options(options)
        if canonical is None:
            raise OrderError(f"options must be a flat mapping of names to text, got {options!r}")
        return canonical

    async def create(
        self,
        model: str,
        variant: str,
        market: str,
        options: dict[str, str],
        lock: bool,
        idempotency_key: str,
        actor: str = "customer",
    ) -> tuple[OrderView, bool]:
        """Take an order; (view, created). A replay of the same key returns the same order,
        the same key with another body is a ConflictError."""
        if not MIN_KEY <= len(idempotency_key) <= MAX_KEY:
            raise InvalidRequestError(
                f"Idempotency-Key header must be {MIN_KEY} to {MAX_KEY} characters, such as a "
                "random UUID: whoever knows an order's key can replay it and get its token"
            )
        canonical = self._check(model, variant, market, options)
        body = orjson.dumps([model, variant, market, canonical, lock])
        now = self.clock()
        book = self.live.book if lock else self.live.quote
        q = book(model, variant, market, options, now)
        window = self.live.new_window(model, variant, market, q, now.date())
        status = Status.LOCKED if lock else Status.RESERVED
        order = NewOrder(
            order_id=f"PL-{now:%y%m%d}-{secrets.token_hex(5).upper()}",
            idempotency_key=idempotency_key,
            body_hash=hashlib.sha256(body).hexdigest(),
            model=model,
            variant=variant,
            options=canonical,
            market=market,
            priority=0,
            status=status,
            created_at=now,
            locked_at=now if lock else None,
            actor=actor,
            window=window if lock else None,
        )
        try:
            res = await self.committer.submit(order)
        except BaseException:
            if lock:
                self.live.mark_due()  # nothing stored: the slot booked for it is not real
            raise
        assert isinstance(res, Created)
        if res.outcome != "created" and lock:
            self.live.mark_due()  # a replay or a conflict: the slot booked is not real
        if res.outcome == "conflict":
            raise ConflictError("Idempotency-Key was already used with a different order body")
        if res.outcome == "replayed":
            return await self.view(res.order_id), False
        rec = OrderRecord(
            order.order_id, model, variant, canonical, market, 0, status, now, order.locked_at
        )
        as_of = self.live.as_of()
        return OrderView(rec, window, q.bound_by or None, not lock, [], as_of), True

    async def record(self, order_id: str) -> OrderRecord:
        rec: OrderRecord | None = await self.run(self.store.get, order_id)
        if rec is None:
            raise NotFoundError(f"no order {order_id!r}")
        return rec

    async def lock(self, order_id: str) -> OrderView:
        rec = await self.record(order_id)
        if rec.status == Status.LOCKED:
            return await self.view(order_id)
        self.policy.check_lock(order_id, rec.status)
        now = self.clock()
        q = self.live.book(rec.model, rec.variant, rec.market, rec.options_dict(), now)
        window = self.live.new_window(rec.model, rec.variant, rec.market, q, now.date())
        await self._apply(
            booked=True,
            t=Transition(
                order_id,
                EventKind.LOCKED,
                frozenset({Status.RESERVED}),
                "customer",
                now,
                status=Status.LOCKED,
                locked_at=now,
                window=window,
                data={"window": window.to_json() if window else None},
            ),
        )
        return await self.view(order_id)

    async def change(
        self, order_id: str, variant: str | None, options: dict[str, str] | None
    ) -> OrderView:
        """A new variant or options while the policy allows; a locked order keeps its
        place (locked_at), its date follows its new parts at the next re-plan."""
        rec = await self.record(order_id)
        now = self.clock()
        self.policy.check_change(order_id, rec.status, rec.locked_at, now)
        new_variant = variant or rec.variant
        canonical = self._check(
            rec.model, new_variant, rec.market, rec.options_dict() if options is None else options
        )
        if (new_variant, canonical) == (rec.variant, rec.options):
            return await self.view(order_id)  # nothing changes: no event
        await self._apply(
            Transition(
                order_id,
                EventKind.CHANGED,
                frozenset({rec.status}),
                "customer",
                now,
                variant=new_variant,
                options=canonical,
                data={
                    "from": {"variant": rec.variant, "options": rec.options_dict()},
                    "to": {"variant": new_variant, "options": orjson.loads(canonical)},
                },
            )
        )
        return await self.view(order_id)

    async def cancel(self, order_id: str) -> tuple[OrderView, bool]:
        """Cancel; the view and whether the deposit is refunded."""
        rec = await self.record(order_id)
        if rec.status == Status.CANCELLED:
            return await self.view(order_id), await self._refunded(order_id)
        self.policy.check_cancel(order_id, rec.status)
        now = self.clock()
        refund = self.policy.refund_due(rec.status, rec.locked_at, now)
        await self._apply(
            Transition(
                order_id,
                EventKind.CANCELLED,
                frozenset({rec.status}) & CANCELLABLE,
                "customer",
                now,
                status=Status.CANCELLED,
                data={"refund": refund},
            )
        )
        return await self.view(order_id), refund

    async def _refunded(self, order_id: str) -> bool:
        for e in await self.run(self.store.events, order_id):
            if e.kind == EventKind.CANCELLED:
                return bool(e.data.get("refund"))
        return False

    async def progress(self, report: Report, actor: str) -> OrderView:
        """The plant's side of the lifecycle (core/model/progress.py): scheduled, built,
        shipped, delivered; the same report twice changes nothing."""
        rec = await self.record(report.order_id)
        events = await self.run(self.store.events, report.order_id)
        # checked against the scenario in use, as of the plant's clock (what orders and
        # their events are stamped with: nothing happens before the order locked)
        whole = check(self.live.scenario, self.clock(), standing(rec, events), report)
        if whole is not None:
            await self._apply(transition(whole, rec.status, actor))
        return await self.view(report.order_id)

    async def correct(self, order_id: str, reason: str, actor: str) -> OrderView:
        """Take an order's progress back: locked again, line, build date and sailing
        cleared, one `corrected` event with what it was and why (core/model/progress.py
        `correction`). The way back from progress reported wrongly."""
        rec = await self.record(order_id)
        await self._apply(correction(rec, reason, actor, self.clock()))
        return await self.view(order_id)

    async def _apply(self, t: Transition, *, booked: bool = False) -> None:
        """Store a transition; if a slot was booked for it and it is not stored, the
        booking is not real: re-plan soon."""
        try:
            res = await self.committer.submit(t)
        except BaseException:
            if booked:
                self.live.mark_due()
            raise
        assert isinstance(res, Transitioned)
        if booked and res.outcome != "done":
            self.live.mark_due()
        if res.outcome == "not_found":
            raise NotFoundError(f"no order {t.order_id!r}")
        if res.outcome == "not_allowed":
            raise TransitionError(f"order {t.order_id} changed meanwhile (now {res.status})")

    # --- reads ---

    async def view(self, order_id: str, *, events: bool = True) -> OrderView:
        rec = await self.record(order_id)
        evs = await self.run(self.store.events, order_id) if events else []
        live = self.live
        as_of = live.as_of()
        if rec.status == Status.RESERVED:
            now = self.clock()
            q = live.quote(rec.model, rec.variant, rec.market, rec.options_dict(), now)
            w = live.new_window(rec.model, rec.variant, rec.market, q, now.date())
            return OrderView(rec, w, q.bound_by or None, True, evs, as_of)
        if rec.status in QUEUED:
            row = live.row(order_id)
            if row is not None and row["status"] == "planned":
                locked = (rec.locked_at or rec.created_at).date()
                told = rec.window
                w = (
                    replace(
                        told, build_date=row["build_date"], queue_position=row["queue_position"]
                    )
                    if told.source != PLAN
                    else promise_window(
                        row["build_date"], row["delivery_date"], locked, row["queue_position"]
                    )
                )
                return OrderView(rec, w, row["bound_by"] or None, False, evs, as_of)
            promised = rec.window if rec.window.earliest else None  # booked since the plan
            return OrderView(rec, promised, None, False, evs, as_of)
        return OrderView(rec, None, None, False, evs, as_of)
