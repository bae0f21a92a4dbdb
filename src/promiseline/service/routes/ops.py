"""Operations: readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from promiseline.service.deps import Desk, Staff

router = APIRouter(
    tags=["ops"],
    responses={
        401: {"description": "A wrong key (no key is fine)"},
        422: {"description": "A malformed key header"},
    },
)


@router.get("/healthz", responses={503: {"description": "Not ready: writes are failing"}})
async def healthz(d: Desk, staff: Staff) -> JSONResponse:
    """Ready (200) or not (503, while writes to the database fail). With a staff key, or
    when the operator allows it, also the plan's age, size and versions."""
    ready, body = await d.health(details=staff or d.settings.public_backlog)
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={401: {"description": "A key is needed unless metrics are public"}},
)
async def metrics(request: Request, d: Desk, staff: Staff) -> Response:
    """Prometheus text format (a planner key, unless the operator made metrics public)."""
    if not (staff or d.settings.public_metrics):
        await d.role(None)  # raises: a key is needed
    text = await asyncio.to_thread(request.app.state.metrics.text)
    return Response(text, media_type="text/plain; version=0.0.4")
