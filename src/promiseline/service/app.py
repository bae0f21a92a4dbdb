"""The HTTP service: FastAPI routes over the order desk. No planning here."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import ValidationError

from promiseline.service.desk import DeskError, ForbiddenError, OrderDesk
from promiseline.service.schemas import (
    Cancelled,
    KeyCreate,
    KeyCreated,
    KeyPublic,
    OrderCreate,
    OrderCreated,
    OrderPublic,
    OrdersPublic,
    OrderUpdate,
    ProgressUpdate,
    QuotePublic,
)
from promiseline.store.records import Role

MAX_BODY = 1024 * 1024
MAX_SCENARIO = 80_000  # characters: even escaped as \\uXXXX (12 bytes each) under MAX_BODY
ASGIApp = Callable[..., Awaitable[None]]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def take_order(desk: OrderDesk, order: OrderCreate, key: str) -> tuple[int, bytes]:
    """Create (or replay) an order; the status and JSON body to answer with."""
    view, created = await desk.create(
        model=order.model,
        variant=order.variant,
        market=order.market,
        options=order.options,
        lock=order.lock,
        idempotency_key=key,
    )
    body = orjson.dumps(view.to_json(token=desk.token(view.record.order_id)))
    return (201 if created else 200), body


class Guard:
    """Pure ASGI middleware: refuses oversized bodies, times every request, and takes
    well-formed new orders on a short path.

    POST /v1/orders is the surge endpoint. A body that validates goes straight to the
    desk (the same `take_order` the FastAPI route calls), skipping routing and
    dependency resolution; anything else, errors included, replays to FastAPI so every
    error reads the same.
    """

    def __init__(self, app: FastAPI, latency: Histogram, taken: Counter) -> None:
        self.app = app  # the FastAPI app; Guard wraps it from outside its middleware
        self.latency = latency
        self.taken = taken

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan, websockets
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and int(value or 0) > MAX_BODY:
                body = orjson.dumps({"detail": f"request body over {MAX_BODY} bytes"})
                await _respond(send, 413, body)
                return
        t0 = time.perf_counter()
        path = "other"
        try:
            if scope["method"] == "POST" and scope["path"] == "/v1/orders":
                path = "/v1/orders"
                await self._order(scope, receive, send)
            else:
                await self.app(scope, receive, send)
                path = getattr(scope.get("route"), "path", "other")
        finally:
            self.latency.labels(scope["method"], path).observe(time.perf_counter() - t0)

    async def _order(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        chunks, more = [], True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        body = b"".join(chunks)
        key = next((v for k, v in scope["headers"] if k == b"idempotency-key"), b"")
        order = None
        if 0 < len(key) <= 200:
            try:
                order = OrderCreate.model_validate_json(body)
            except ValidationError:
                order = None
        if order is None:  # let FastAPI answer, with the body replayed
            replayed = False

            async def replay() -> dict[str, Any]:
                nonlocal replayed
                if replayed:
                    return await receive()  # type: ignore[no-any-return]
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send)
            return
        desk: OrderDesk = self.app.state.desk
        try:
            status, payload = await take_order(desk, order, key.decode("latin-1"))
            self.taken.labels("created" if status == 201 else "replayed").inc()
        except DeskError as e:
            status, payload = e.status, orjson.dumps({"detail": str(e)})
        await _respond(send, status, payload, [(b"idempotency-key", key)])


async def _respond(
    send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *(extra or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def get_desk(request: Request) -> OrderDesk:  # async: no thread hop per request
    desk: OrderDesk = request.app.state.desk
    return desk


Desk = Annotated[OrderDesk, Depends(get_desk)]
Token = Annotated[str | None, Header(alias="X-Order-Token")]
TokenQ = Annotated[str | None, Query(alias="token", max_length=100)]
ApiKey = Annotated[str | None, Header(alias="X-API-Key")]


def customer(d: OrderDesk, order_id: str, token: str | None, key: str | None) -> None:
    """The order's own token, or a planner/admin key, opens an order."""
    if key and not token:
        d.role(key)
        return
    d.check_token(order_id, token)


def needs(role: Role) -> Callable[..., Awaitable[Role]]:
    async def check(d: Desk, key: ApiKey = None) -> Role:
        found = d.role(key)
        if role == "admin" and found != "admin":
            raise ForbiddenError("this needs an admin key")
        return found

    return check


Planner = Annotated[Role, Depends(needs("planner"))]
Admin = Annotated[Role, Depends(needs("admin"))]


def create_app(make_desk: Callable[[], OrderDesk]) -> Guard:
    """The service app; the desk is made at start-up (so each worker process has its own)."""
    registry = CollectorRegistry()
    taken = Counter(
        "promiseline_orders_taken", "Orders taken, by outcome", ["outcome"], registry=registry
    )
    latency = Histogram(
        "promiseline_request_seconds",
        "Request latency",
        ["method", "route"],
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        registry=registry,
    )
    plan_age = Gauge(
        "promiseline_plan_age_seconds", "Seconds since the last full re-plan", registry=registry
    )
    backlog = Gauge(
        "promiseline_backlog_orders", "Orders planned and not yet built", registry=registry
    )
    batches = Gauge("promiseline_commit_batches", "Group-commit batches written", registry=registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        desk = await asyncio.to_thread(make_desk)
        app.state.desk = desk
        await desk.start()
        yield
        await desk.stop()

    app = FastAPI(
        title="promiseline order service",
        version="1",
        description="Durable surge intake, honest queue positions and delivery windows.",
        lifespan=lifespan,
    )

    @app.exception_handler(DeskError)
    async def _desk_error(_: Request, e: DeskError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=e.status)

    responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "Malformed request body"},
        401: {"description": "Missing or unknown token or key"},
        404: {"description": "No such order"},
        409: {"description": "Conflict"},
        413: {"description": "Request body too large"},
        422: {"description": "Invalid input"},
    }

    # --- customer ---

    @app.post(
        "/v1/orders",
        response_model=OrderCreated,
        status_code=201,
        tags=["customer"],
        responses={
            200: {"model": OrderCreated, "description": "Replay of the same key"},
            **responses,
        },
    )
    async def create_order(
        d: Desk,
        order: OrderCreate,
        idempotency_key: Annotated[
            str, Header(alias="Idempotency-Key", min_length=1, max_length=200)
        ],
    ) -> Response:
        """Take an order. The same Idempotency-Key and body give back the same order."""
        status, body = await take_order(d, order, idempotency_key)
        taken.labels("created" if status == 201 else "replayed").inc()
        return Response(
            body,
            status_code=status,
            media_type="application/json",
            headers={"Idempotency-Key": idempotency_key},
        )

    @app.get(
        "/v1/orders/{order_id}", response_model=OrderPublic, tags=["customer"], responses=responses
    )
    @app.get(
        "/v1/orders/{order_id}/eta",
        response_model=OrderPublic,
        tags=["customer"],
        responses=responses,
    )
    async def get_order(
        d: Desk, order_id: str, token: Token = None, t: TokenQ = None, key: ApiKey = None
    ) -> Response:
        """Status, queue position, delivery window and the order's events."""
        customer(d, order_id, token or t, key)
        return _json(d.view(order_id).to_json())

    @app.post(
        "/v1/orders/{order_id}/lock",
        response_model=OrderPublic,
        tags=["customer"],
        responses=responses,
    )
    async def lock_order(d: Desk, order_id: str, token: Token = None, t: TokenQ = None) -> Response:
        """Make a reserved order firm: it takes its place in the build queue now."""
        d.check_token(order_id, token or t)
        return _json((await d.lock(order_id)).to_json())

    @app.patch(
        "/v1/orders/{order_id}", response_model=OrderPublic, tags=["customer"], responses=responses
    )
    async def change_order(
        d: Desk, order_id: str, change: OrderUpdate, token: Token = None, t: TokenQ = None
    ) -> Response:
        """Change variant or options while allowed (reserved, or locked for a few days)."""
        d.check_token(order_id, token or t)
        return _json((await d.change(order_id, change.variant, change.options)).to_json())

    @app.post(
        "/v1/orders/{order_id}/cancel",
        response_model=Cancelled,
        tags=["customer"],
        responses=responses,
    )
    async def cancel_order(
        d: Desk, order_id: str, token: Token = None, t: TokenQ = None
    ) -> Response:
        """Cancel an order; says whether the deposit is refunded."""
        d.check_token(order_id, token or t)
        view, refund = await d.cancel(order_id)
        return _json(view.to_json() | {"refund": refund})

    @app.get(
        "/v1/orders/{order_id}/events",
        tags=["customer"],
        responses=responses,
        response_class=StreamingResponse,
    )
    async def order_events(
        request: Request,
        d: Desk,
        order_id: str,
        token: Token = None,
        t: TokenQ = None,
        key: ApiKey = None,
        last_event_id: Annotated[int | None, Header(alias="Last-Event-ID")] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: every event of this order, then new ones as they happen."""
        customer(d, order_id, token or t, key)
        d.view(order_id, events=False)  # 404 before the stream starts

        async def stream() -> AsyncIterator[bytes]:
            after = last_event_id or 0
            while not await request.is_disconnected():
                for e in await asyncio.to_thread(d.events, order_id, after):
                    after = e.event_id
                    data = json.dumps(e.to_json())
                    yield f"id: {e.event_id}\nevent: {e.kind}\ndata: {data}\n\n".encode()
                yield b": keep-alive\n\n"
                await asyncio.sleep(0.5)

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.get("/v1/quote", response_model=QuotePublic, tags=["customer"], responses=responses)
    async def quote(
        d: Desk,
        model: Annotated[str, Query(max_length=100)],
        variant: Annotated[str, Query(max_length=100)],
        market: Annotated[str, Query(max_length=100)],
        option: Annotated[list[str] | None, Query(description="NAME:VALUE", max_length=20)] = None,
    ) -> Response:
        """The delivery window a new order would get if locked now (books nothing)."""
        opts = {name: value for name, _, value in (o.partition(":") for o in option or [])}
        q, window = d.quote(model, variant, market, opts)
        return _json(
            {
                "model": model,
                "variant": variant,
                "market": market,
                "window": window.to_json() if window else None,
                "bound_by": q.bound_by or None,
                "reason": q.reason,
            }
        )

    # --- planner ---

    @app.get("/v1/orders", response_model=OrdersPublic, tags=["planner"], responses=responses)
    async def list_orders(
        d: Desk,
        _: Planner,
        status: Annotated[str | None, Query(max_length=20)] = None,
        model: Annotated[str | None, Query(max_length=100)] = None,
        variant: Annotated[str | None, Query(max_length=100)] = None,
        market: Annotated[str | None, Query(max_length=100)] = None,
        after: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        """Orders by id, filtered, one page at a time (pass `next_after` as `after`)."""
        rows, count = await asyncio.to_thread(
            d.store.list_orders,
            status=status,
            model=model,
            variant=variant,
            market=market,
            after=after,
            limit=limit,
        )
        data = [
            {k: v for k, v in r.to_json().items() if k not in ("options", "priority")}
            | {"window": r.window.to_json() if r.window.earliest else None}
            for r in rows
        ]
        nxt = rows[-1].order_id if len(rows) == limit else None
        return _json({"data": data, "count": count, "next_after": nxt})

    @app.get("/v1/orders/{order_id}/explain", tags=["planner"], responses=responses)
    async def explain(d: Desk, _: Planner, order_id: str) -> dict[str, Any]:
        """Why this order has its date: what bound it, how many orders ahead use it."""
        e = d.explain(order_id)
        return e.to_dict() | {"text": e.text()}

    @app.post(
        "/v1/orders/{order_id}/progress",
        response_model=OrderPublic,
        tags=["planner"],
        responses=responses,
    )
    async def progress(d: Desk, role: Planner, order_id: str, update: ProgressUpdate) -> Response:
        """Record that an order is scheduled, built, shipped or delivered."""
        view = await d.progress(order_id, update.status, update.line, update.build_date, actor=role)
        return _json(view.to_json())

    @app.post("/v1/plan", tags=["planner"], responses=responses)
    async def replan(d: Desk, _: Planner) -> dict[str, Any]:
        """Re-plan every order now; returns the plan summary."""
        return await d.replan()

    @app.get("/v1/plan", tags=["planner"], responses=responses)
    async def plan_summary(d: Desk, _: Planner) -> dict[str, Any]:
        """The current plan's summary: waits, binding constraints, utilization, parts."""
        return d.plan_summary()

    @app.get("/v1/capacity", tags=["planner"], responses=responses)
    async def capacity(d: Desk, _: Planner) -> dict[str, Any]:
        """Per line and part totals and the backlog by day."""
        sm = d.live.plan.summary()
        return {k: sm[k] for k in ("lines", "utilization_through", "parts", "backlog")}

    @app.get(
        "/v1/scenario", tags=["planner"], response_class=PlainTextResponse, responses=responses
    )
    async def get_scenario(d: Desk, _: Planner) -> str:
        """The scenario in use, as YAML."""
        import yaml

        text = d.store.setting("scenario_yaml")
        return text or yaml.safe_dump(
            d.scenario.model_dump(mode="json", by_alias=True), sort_keys=False
        )

    @app.put("/v1/scenario", tags=["planner"], responses=responses)
    async def put_scenario(
        d: Desk,
        _: Planner,
        text: Annotated[str, Body(media_type="application/yaml", max_length=MAX_SCENARIO)],
    ) -> dict[str, Any]:
        """Replace the scenario (YAML body); everything is re-planned on it."""
        return await d.replace_scenario(text)

    # --- admin ---

    @app.post(
        "/v1/keys",
        response_model=KeyCreated,
        status_code=201,
        tags=["admin"],
        responses={403: {"description": "Not an admin key"}, **responses},
    )
    async def create_key(d: Desk, _: Admin, body: KeyCreate) -> dict[str, Any]:
        """Create an API key; it is shown once and stored hashed."""
        key_id, key = d.create_key(body.role)
        return {"key_id": key_id, "role": body.role, "key": key}

    @app.get(
        "/v1/keys",
        response_model=list[KeyPublic],
        tags=["admin"],
        responses={403: {"description": "Not an admin key"}, **responses},
    )
    async def list_keys(d: Desk, _: Admin) -> list[dict[str, Any]]:
        """Every key, active and revoked (never the key itself)."""
        return [
            {
                "key_id": k.key_id,
                "role": k.role,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in d.api_keys()
        ]

    @app.delete(
        "/v1/keys/{key_id}",
        status_code=204,
        tags=["admin"],
        responses={403: {"description": "Not an admin key"}, **responses},
    )
    async def revoke_key(d: Desk, _: Admin, key_id: str) -> Response:
        """Revoke a key at once."""
        d.revoke_key(key_id)
        return Response(status_code=204)

    # --- operations ---

    @app.get("/healthz", tags=["ops"], responses=responses)
    async def healthz(d: Desk) -> dict[str, Any]:
        """Alive, with the plan's age and size and the group-commit counters."""
        c = d.committer
        return {
            "ok": True,
            "plan_age_s": round(time.time() - d.live.built_at, 3),
            "orders_in_plan": d.live.plan.table.height,
            "commit_batches": c.batches,
            "committed": c.items,
            "commit_seconds": round(c.write_s, 3),
        }

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse, responses=responses)
    async def metrics(d: Desk) -> Response:
        """Prometheus text format."""
        plan_age.set(time.time() - d.live.built_at)
        backlog.set(d.live.plan.n_frozen + d.live.plan.n_active + d.live.appended)
        batches.set(d.committer.batches)
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    return Guard(app, latency, taken)
