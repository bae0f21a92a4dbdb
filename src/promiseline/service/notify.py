"""Notifications: order events to open SSE streams, and webhook deliveries from the outbox.

One feed per process reads new events from the database (any worker's) a few times a
second, but only while someone listens, and hands each to the streams of its order:
the cost does not grow with the number of streams, and streams never poll the database
themselves. Streams are capped per order and in total.

Webhook deliveries are rows of the outbox, written with their events; several senders
claim due rows, POST them with a per-request timeout, sign them the Standard Webhooks
way (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256>), back
off exponentially after a failure and give up after `webhook_attempts` (a dead letter).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import logging
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from promiseline.core.model.records import Delivery, Event
from promiseline.errors import TooManyRequestsError
from promiseline.service.background import cancel
from promiseline.service.settings import Settings
from promiseline.service.webhook_key import signing_key
from promiseline.store import SqlStore

log = logging.getLogger("promiseline.service")
Clock = Callable[[], dt.datetime]
LOOKBACK = 256  # event ids re-read each poll: another process may commit a lower id late
QUEUE = 256  # events waiting for one slow stream before it is closed


@dataclass(eq=False)
class Subscription:
    order_id: str
    after: int  # last event id sent
    client: str = ""  # the client address (its streams are capped too)
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    closed: bool = False


class EventFeed:
    """New events, fanned out to the streams of their order."""

    def __init__(self, store: SqlStore, settings: Settings, poll_s: float = 0.25) -> None:
        self.store = store
        self.per_order = settings.sse_per_order
        self.total = settings.sse_total
        self.per_client = settings.sse_per_client
        self.clients: dict[str, int] = {}  # open streams per client address
        self.poll_s = poll_s
        self.streams: dict[str, set[Subscription]] = defaultdict(set)
        self.open = 0
        self._cursor = 0
        self._seen: dict[int, None] = {}  # recent ids, in order (dedupe the lookback)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        await cancel([self._task])

    def subscribe(self, order_id: str, after: int, client: str = "") -> Subscription:
        if self.open >= self.total:
            raise TooManyRequestsError(f"{self.total:,} event streams are open; try later")
        if len(self.streams.get(order_id, ())) >= self.per_order:
            raise TooManyRequestsError(
                f"{self.per_order} event streams are open for order {order_id}; close one"
            )
        if self.clients.get(client, 0) >= self.per_client:
            raise TooManyRequestsError(
                f"{self.per_client} event streams are open from this address; close one"
            )
        sub = Subscription(order_id, after, client)
        self.streams[order_id].add(sub)
        self.clients[client] = self.clients.get(client, 0) + 1
        self.open += 1
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        mine = self.streams.get(sub.order_id)
        if mine is not None and sub in mine:
            mine.discard(sub)
            self.open -= 1
            left = self.clients.pop(sub.client, 1) - 1
            if left:
                self.clients[sub.client] = left
            if not mine:
                del self.streams[sub.order_id]

    async def _poll(self) -> None:
        idle = True
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                if not self.open:  # nobody listens: nothing is read
                    idle = True
                    continue
                if idle:  # start from now: a new stream reads its history itself
                    self._cursor = await asyncio.to_thread(self.store.last_event_id)
                    idle = False
                last, events = await asyncio.to_thread(
                    self.store.events_after, max(0, self._cursor - LOOKBACK), set(self.streams)
                )
            except Exception as e:  # the database is away: streams wait, keep-alives go on
                log.warning("event feed: %s", e)
                continue
            self._cursor = max(self._cursor, last)
            for ev in events:
                if ev.event_id in self._seen:
                    continue
                self._seen[ev.event_id] = None
                for sub in list(self.streams.get(ev.order_id, ())):
                    self._offer(sub, ev)
            while len(self._seen) > 4 * LOOKBACK:
                del self._seen[next(iter(self._seen))]

    def _offer(self, sub: Subscription, e: Event) -> None:
        try:
            sub.queue.put_nowait(e)
        except asyncio.QueueFull:  # a stream that does not read: closed, it may reconnect
            sub.closed = True
            self.unsubscribe(sub)

    async def stream(self, sub: Subscription, keep_alive_s: float = 15.0) -> AsyncIterator[bytes]:
        """Server-Sent Events: the order's events after `sub.after`, then new ones, with a
        keep-alive comment when quiet (first after a random part of the period, so many
        streams opened together do not all wake at once)."""
        try:
            for e in await asyncio.to_thread(self.store.events, sub.order_id, sub.after):
                yield _sse(e)
                sub.after = e.event_id
            wait = random.uniform(0.5, 1.0) * keep_alive_s
            while not sub.closed:
                try:
                    e = await asyncio.wait_for(sub.queue.get(), wait)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                finally:
                    wait = keep_alive_s
                if e.event_id > sub.after:
                    yield _sse(e)
                    sub.after = e.event_id
        finally:
            self.unsubscribe(sub)


def _sse(e: Event) -> bytes:
    import orjson

    data = orjson.dumps(e.to_json()).decode()
    return f"id: {e.event_id}\nevent: {e.kind.value}\ndata: {data}\n\n".encode()


def signature(key: bytes, msg_id: str, timestamp: int, body: str) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Webhooks:
    """Senders that drain the outbox."""

    def __init__(self, store: SqlStore, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.key = signing_key(settings.webhook_secret) if settings.webhook_secret else b""
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.settings.webhooks:
            self._tasks = [
                asyncio.create_task(self._sender()) for _ in range(self.settings.webhook_senders)
            ]

    async def stop(self) -> None:
        await cancel(self._tasks)

    async def _sender(self) -> None:
        import httpx

        hold = self.settings.webhook_timeout_s * 2 + 5
        async with httpx.AsyncClient(timeout=self.settings.webhook_timeout_s) as client:
            while True:
                try:
                    batch = await asyncio.to_thread(self.store.claim, self.clock(), hold, 10)
                except Exception as e:
                    log.warning("webhook outbox: %s", e)
                    batch = []
                if not batch:
                    await asyncio.sleep(0.2)
                    continue
                for d in batch:
                    await self._send(client, d)

    async def _send(self, client: object, d: Delivery) -> None:
        import httpx

        assert isinstance(client, httpx.AsyncClient)
        stamp = int(time.time())
        msg_id = f"msg_{d.delivery_id}"
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature(self.key, msg_id, stamp, d.body),
        }
        error = None
        try:
            r = await client.post(d.target, content=d.body.encode(), headers=headers)
            if r.status_code >= 300:
                error = f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        if error is None:
            await asyncio.to_thread(self.store.delivered, d.delivery_id)
            return
        retry = None
        if d.attempts < self.settings.webhook_attempts:
            retry = self.clock() + dt.timedelta(seconds=min(3600, 0.5 * 2 ** (d.attempts - 1)))
        else:
            log.warning(
                "webhook %s to %s: dead after %d tries: %s", msg_id, d.target, d.attempts, error
            )
        await asyncio.to_thread(self.store.failed, d.delivery_id, error, retry)
