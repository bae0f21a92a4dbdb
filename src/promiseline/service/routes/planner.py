"""Planner routes (X-API-Key with the planner or admin role): the order list, explain,
progress, the plan, capacity and the scenario."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from promiseline.core.model.lifecycle import QUEUED, Status
from promiseline.core.model.progress import Report
from promiseline.core.model.records import OrderFilter
from promiseline.errors import InvalidRequestError
from promiseline.service.deps import Desk, Planner, body, documented, planner
from promiseline.service.jobs import Job
from promiseline.service.routes.orders import ERRORS
from promiseline.service.schemas import OrdersPublic, ProgressCorrection, ProgressUpdate

router = APIRouter(tags=["planner"], responses={403: {"description": "Wrong role"}, **ERRORS})
Name = Annotated[str | None, Query(max_length=100)]


@router.get("/v1/orders", response_model=OrdersPublic)
async def list_orders(
    d: Desk,
    _: Planner,
    status: Status | None = None,
    model: Name = None,
    variant: Name = None,
    market: Name = None,
    after: Name = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Orders by id, filtered, one page at a time (pass `next_after` as `after`)."""
    page = await d.orders(OrderFilter(status, model, variant, market), after, limit)
    data = [  # the window last promised (GET /v1/orders/{id} gives the current plan's)
        {k: v for k, v in r.to_json().items() if k not in ("options", "priority")}
        | {"window": r.window.to_json() if r.status in QUEUED and r.window.earliest else None}
        for r in page.orders
    ]
    body_ = {"data": data, "count": page.count, "next_after": page.next_after}
    return Response(orjson.dumps(body_), media_type="application/json")


@router.get("/v1/orders/{order_id}/explain")
async def explain(d: Desk, _: Planner, order_id: str) -> dict[str, Any]:
    """Why this order has its date: what bound it, how many orders ahead use it."""
    e = d.explain(order_id)
    return e.to_dict() | {"text": e.text()}


@router.post("/v1/orders/{order_id}/progress", openapi_extra=documented(ProgressUpdate))
async def progress(
    d: Desk, role: Planner, order_id: str, update: ProgressUpdate = body(ProgressUpdate, planner)
) -> Response:
    """Record that an order is scheduled, built, shipped or delivered."""
    report = Report(
        order_id,
        update.status,
        update.line,
        update.build_date,
        update.sailing_id,
        update.at.replace(tzinfo=None) if update.at else None,
    )
    view = await d.progress(report, role)
    return Response(orjson.dumps(view.to_json()), media_type="application/json")


@router.post("/v1/orders/{order_id}/correction", openapi_extra=documented(ProgressCorrection))
async def correct(
    d: Desk,
    role: Planner,
    order_id: str,
    fix: ProgressCorrection = body(ProgressCorrection, planner),
) -> Response:
    """Put a scheduled, built, shipped or delivered order back to locked (progress
    reported wrongly, or that a new scenario no longer fits); then report it again."""
    view = await d.correct(order_id, fix.reason, role)
    return Response(orjson.dumps(view.to_json()), media_type="application/json")


@router.get("/v1/plan/unfit")
async def unfit(
    d: Desk, _: Planner, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    """Stored orders the scenario in use does not fit (left out of the plan), and why:
    fix each with POST /v1/orders/{order_id}/correction or a scenario that fits it."""
    rejected = d.unfit()
    return {
        "count": len(rejected),
        "orders": [{"order_id": r.order_id, "reason": r.reason} for r in rejected[:limit]],
    }


@router.post("/v1/plan")
async def replan(d: Desk, _: Planner) -> dict[str, Any]:
    """Re-plan every order now; returns the plan summary."""
    return await d.replan()


@router.get("/v1/plan")
async def plan_summary(d: Desk, _: Planner) -> dict[str, Any]:
    """The current plan's summary: waits, binding constraints, utilization, parts."""
    return d.plan_summary()


@router.get("/v1/capacity")
async def capacity(d: Desk, _: Planner) -> dict[str, Any]:
    """Per line and part totals and the backlog by day."""
    return d.capacity()


@router.get("/v1/scenario", response_class=PlainTextResponse)
async def get_scenario(d: Desk, _: Planner) -> str:
    """The scenario in use, as YAML (as it was put)."""
    return await d.scenario_text()


@router.put(
    "/v1/scenario",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {"schema": {"type": "string"}}},
        }
    },
)
async def put_scenario(d: Desk, _: Planner, request: Request) -> dict[str, Any]:
    """Replace the scenario (YAML body, up to 1 MiB): parsed, validated and planned with
    the whole order book before it is stored; any problem is a 422 naming it and the old
    scenario stays in use. Every worker moves to the new one within the debounce."""
    raw = await request.body()  # only now: the key was checked first
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidRequestError(f"scenario: not UTF-8 text (byte {e.start})") from None
    return await d.replace_scenario(text)


@router.get("/v1/jobs")
async def list_jobs(d: Desk, _: Planner) -> list[dict[str, Any]]:
    """The what-ifs and sizings this worker runs or keeps: state, step, time, memory."""
    return [job_json(j) for j in d.jobs.all()]


@router.delete("/v1/jobs/{job_id}")
async def cancel_job(job_id: str, d: Desk, _: Planner) -> dict[str, Any]:
    """Stop a running what-if or sizing (its process ends within a fraction of a second);
    a finished one is left as it is."""
    return job_json(d.cancel_job(job_id))


def job_json(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "title": job.title,
        "running": job.running,
        "cancelled": job.cancelled,
        "step": job.step,
        "seconds": round(job.seconds(), 1),
        "peak_mb": round(job.peak_mb),
        "error": job.error,
        "tables": sorted(job.result.tables) if job.result is not None else [],
    }
