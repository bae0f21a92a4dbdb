"""The JSON service, assembled: routers by audience, error answers, the desk made at
start-up (one per worker process, built off the event loop), and the outer guard. The
pages are not its own: promiseline/server.py adds them before the guard goes on."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi

from promiseline.errors import PromiselineError
from promiseline.service.deps import body_schemas
from promiseline.service.desk import OrderDesk
from promiseline.service.guard import Guard
from promiseline.service.metrics import Metrics
from promiseline.service.problems import on_error, on_invalid
from promiseline.service.routes import admin, ops, orders, planner


def service_app(make_desk: Callable[[], OrderDesk]) -> FastAPI:
    """The JSON API; `make_desk` runs at start-up, in a thread."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        desk = await asyncio.to_thread(make_desk)
        app.state.desk = metrics.desk = desk
        await desk.start()
        gc.freeze()  # what start-up built lives on: full collections need not walk it
        gc.set_threshold(50_000, 20, 20)
        yield
        await desk.stop()

    app = FastAPI(
        title="promiseline order service",
        version="2",
        description="Durable surge intake, honest queue positions and delivery windows.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_exception_handler(PromiselineError, on_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    for r in (orders.router, planner.router, admin.router, ops.router):
        app.include_router(r)
    return app


def guarded(app: FastAPI) -> Guard:
    """The app behind the outer guard: body limits, timing, the surge short path."""
    return Guard(app, app.state.metrics, lambda: app.state.desk)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the bodies that routes read after checking the caller."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(body_schemas())
        app.openapi_schema = schema
    return app.openapi_schema
