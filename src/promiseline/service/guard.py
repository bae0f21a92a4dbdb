"""The outer ASGI layer: per-client rates (service/edge.py), body limits and a body
deadline for every request, request timing, the security headers on every answer
(service/headers.py), and the short path for well-formed new orders.

Body limits hold whether a request says its length or streams chunks: a declared length
over the limit is refused before anything is read, and a body that grows past it is cut
off while streaming (413), so no request holds more than its route's limit in memory.
The scenario upload gets a larger limit; its route reads the body only after checking
the caller's key.

POST /v1/orders is the surge endpoint. A body that validates goes straight to the desk,
skipping routing and dependency resolution; anything else, errors included, is replayed
to FastAPI so every error reads the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from pydantic import ValidationError

from promiseline.errors import BodyTooLargeError, PromiselineError
from promiseline.service.edge import RateLimitedError, check_rates
from promiseline.service.headers import secured
from promiseline.service.intake import MAX_KEY, MIN_KEY
from promiseline.service.metrics import Metrics
from promiseline.service.problems import answer
from promiseline.service.schemas import OrderCreate
from promiseline.service.strict_json import duplicate_error, duplicate_key

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 64 * 1024  # an order or a key request is a few hundred bytes
MAX_HEADERS = 16 * 1024  # all header names and values of one request
MAX_SCENARIO_BODY = 1024 * 1024
MAX_PATCH = 256 * 1024  # a what-if patch's text (the dashboard's what-if form)
ORDERS = "/v1/orders"
# the request bodies of the dashboard's scenario and what-if forms: the text the route
# takes, which form encoding may make 3 bytes a character (%XX), and small other fields
# (each route checks its text and answers a longer one with the page and the limit)
FORMS = {
    ("POST", "/scenario"): 3 * MAX_SCENARIO_BODY + MAX_BODY,
    ("POST", "/whatif"): 3 * MAX_PATCH + MAX_BODY,  # under multipart's 1 MiB a field
}


def body_limit(method: str, path: str) -> int:
    if (method, path) == ("PUT", "/v1/scenario"):
        return MAX_SCENARIO_BODY
    return FORMS.get((method, path), MAX_BODY)


class Guard:
    """Pure ASGI middleware around the FastAPI app."""

    def __init__(self, app: ASGIApp, metrics: Metrics, desk: Callable[[], Any]) -> None:
        self.app = app
        self.metrics = metrics
        self.desk = desk  # the desk, made at start-up (each worker process has its own)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan
            return
        send = secured(scope, send)  # the security headers on every answer
        if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADERS:
            await _respond(send, 431, {"detail": f"request headers over {MAX_HEADERS:,} bytes"})
            return
        method, path = scope["method"], scope["path"]
        if "\x00" in path or b"%00" in scope.get("query_string", b""):
            # no id, key or filter holds one, and PostgreSQL refuses it in text
            detail = "a NUL character (%00) is not allowed in a request's path or query"
            await _respond(send, 400, {"detail": detail})
            return
        try:  # per-client rates (service/edge.py), before anything is read
            check_rates(self.desk().limits, scope)
        except RateLimitedError as e:
            await _respond(send, *answer(e))
            return
        limit = body_limit(method, path)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit() or len(declared) > 18:
                await _respond(send, 400, {"detail": "Content-Length must be a whole number"})
                return
            if int(declared) > limit:
                await _too_large(scope, send, limit)
                return
        t0 = time.perf_counter()
        label = "other"
        cut = _Limited(receive, send, limit, self.desk().settings.body_timeout_s)
        try:
            if method == "POST" and path == ORDERS:
                label = ORDERS
                await self._order(scope, cut)
            else:
                await self.app(scope, cut.receive, cut.send)
                label = getattr(scope.get("route"), "path", "other")
        except BodyTooLargeError:
            pass
        except Exception:
            if not cut.over:
                raise
        finally:
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - t0)
        if cut.over and not cut.started and cut.late:
            seconds = self.desk().settings.body_timeout_s
            detail = f"the request body did not arrive whole within {seconds:g} s"
            await _respond(send, 408, {"detail": detail}, {"Connection": "close"})
        elif cut.over and not cut.started:
            await _too_large(scope, send, limit)

    async def _order(self, scope: Scope, cut: _Limited) -> None:
        body = await cut.read()
        if body is None:
            return  # the client went away
        twice = duplicate_key(body)
        if twice is not None:
            await _respond(cut.send, 422, {"detail": [duplicate_error(twice)]})
            return
        key = _header(scope, b"idempotency-key") or ""
        order = None
        if MIN_KEY <= len(key) <= MAX_KEY:
            try:
                order = OrderCreate.model_validate_json(body)
            except ValidationError:
                order = None
        if order is None:  # let FastAPI answer, with the body replayed
            await self.app(scope, _replay(body, cut.receive), cut.send)
            return
        try:
            data, created = await self.desk().create(
                order.model, order.variant, order.market, order.options, order.lock, key
            )
            status, payload = (201 if created else 200), data
            headers: dict[str, str] = {}
            self.metrics.taken.labels("created" if created else "replayed").inc()
        except PromiselineError as e:
            status, payload, headers = answer(e)
        headers["Idempotency-Key"] = key
        await _respond(cut.send, status, payload, headers)


class _Limited:
    """receive/send wrappers that count the body and stop at the limit or the deadline."""

    def __init__(self, receive: Receive, send: Send, limit: int, seconds: float) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.deadline = asyncio.get_running_loop().time() + seconds  # the whole body by then
        self.seen = 0
        self.over = False  # refused: too large, or too late
        self.late = False
        self.whole = False
        self.started = False

    async def receive(self) -> Message:
        if self.over:
            raise BodyTooLargeError
        if self.whole:  # the body is in: waiting now is for a disconnect, unbounded
            return await self._receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                msg = await self._receive()
        except TimeoutError:  # a client dripping its body holds no worker past this
            self.over = self.late = True
            raise BodyTooLargeError from None
        if msg["type"] == "http.request":
            self.seen += len(msg.get("body", b""))
            if self.seen > self.limit:
                self.over = True
                raise BodyTooLargeError
            self.whole = not msg.get("more_body", False)
        else:
            self.whole = True
        return msg

    async def send(self, msg: Message) -> None:
        if self.over:
            return  # the 413 goes out instead
        if msg["type"] == "http.response.start":
            self.started = True
        await self._send(msg)

    async def read(self) -> bytes | None:
        """The whole body (None if the client disconnected)."""
        chunks, more = [], True
        while more:
            msg = await self.receive()
            if msg["type"] == "http.disconnect":
                return None
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return bytes(v).decode("latin-1")
    return None


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    """413: JSON for the API; for a page's form a page, which says the limit and that going
    back keeps what was typed (the browser keeps a form's fields)."""
    if scope["path"].startswith("/v1/") or not _from_a_page(scope):
        await _respond(send, 413, {"detail": f"request body over {limit:,} bytes"})
        return
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        "<title>Too large</title><h1>Too large to send</h1>"
        f"<p>This form sends at most {limit:,} bytes; what you sent is larger. "
        "Go back: your browser keeps what you typed.</p></html>"
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": page.encode()})


def _from_a_page(scope: Scope) -> bool:
    """A browser's form post or page request (what a page sends), not an API client's."""
    kind = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    accept = (_header(scope, b"accept") or "").lower()
    forms = ("application/x-www-form-urlencoded", "multipart/form-data")
    return kind in forms or "text/html" in accept


async def _respond(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *raw],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})
