"""What-ifs and capacity sizing from the dashboard: a form, a job in the background with
the step it is on, and the answer side by side; every table downloads. The work is the
desk's (the same core functions as `promiseline compare` and `size`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from promiseline.core.studies.whatif import check_names
from promiseline.errors import PromiselineError, ScenarioError
from promiseline.io.scenario_file import parse_yaml
from promiseline.service.guard import MAX_PATCH
from promiseline.service.jobs import Job
from promiseline.web.deps import check_csrf, desk_of, signed_in
from promiseline.web.pages import FORMATS, file_response
from promiseline.web.render import page

router = APIRouter(include_in_schema=False)
LEVERS = ("shift", "line", "part")
IN_USE = "in use"  # the name of the scenario in use in a what-if (OrderDesk.start_what_if)


@router.get("/whatif")
async def whatif_page(request: Request) -> Response:
    role = await signed_in(request)
    return page(request, "whatif.html", role=role, nav="whatif", text="", name="", problems=[])


@router.post("/whatif")
async def start_whatif(
    request: Request,
    csrf: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=60)] = "",
    text: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    role = await signed_in(request)
    check_csrf(request, csrf)
    if len(text.encode()) > MAX_PATCH:  # the page again, with the text and the limit
        return _whatif_again(request, role, name, text, [f"over {MAX_PATCH:,} bytes"], 413)
    if file is not None and file.filename:
        raw = await file.read(MAX_PATCH + 1)
        if len(raw) > MAX_PATCH:
            problem = f"{file.filename}: over {MAX_PATCH:,} bytes"
            return _whatif_again(request, role, name, "", [problem], 413)
        text = raw.decode("utf-8", errors="replace")
        name = name or (file.filename.rsplit(".", 1)[0])
    name = (name or "what-if").strip()[:60]
    try:
        check_names([IN_USE, name])  # its columns sit next to the scenario in use's
        patch = parse_yaml(text, name)
        job = desk_of(request).start_what_if(name, patch)
    except ScenarioError as e:
        return _whatif_again(request, role, name, text, e.problems)
    except PromiselineError as e:
        return _whatif_again(request, role, name, text, [str(e)])
    return RedirectResponse(f"/jobs/{job.job_id}", status_code=303)


def _whatif_again(
    request: Request, role: str, name: str, text: str, problems: list[str], status: int = 422
) -> Response:
    return page(
        request,
        "whatif.html",
        status,
        role=role,
        nav="whatif",
        text=text,
        name=name,
        problems=problems,
    )


@router.get("/sizing")
async def sizing_page(request: Request) -> Response:
    role = await signed_in(request)
    return page(
        request,
        "sizing.html",
        role=role,
        nav="sizing",
        target="",
        levers=LEVERS,
        chosen=LEVERS,
        error=None,
    )


@router.post("/sizing")
async def start_sizing(
    request: Request,
    target: Annotated[str, Form(max_length=120)],
    csrf: Annotated[str, Form(max_length=64)] = "",
    lever: Annotated[list[str] | None, Form()] = None,
) -> Response:
    role = await signed_in(request)
    check_csrf(request, csrf)
    chosen = tuple(k for k in LEVERS if k in (lever or []))
    try:
        if not chosen:
            raise PromiselineError("choose at least one kind of lever")
        job = desk_of(request).start_sizing(target.strip(), chosen)
    except PromiselineError as e:
        return page(
            request,
            "sizing.html",
            422,
            role=role,
            nav="sizing",
            target=target,
            levers=LEVERS,
            chosen=chosen,
            error=str(e),
        )
    return RedirectResponse(f"/jobs/{job.job_id}", status_code=303)


def _job(request: Request, job_id: str) -> Job | None:
    return desk_of(request).job(job_id)


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: str) -> Response:
    role = await signed_in(request)
    job = _job(request, job_id)
    if job is None:
        return HTMLResponse("<p>No such job in this worker (they are kept for a while).</p>", 404)
    template = "job_status.html" if request.headers.get("hx-request") else "job.html"
    return page(
        request,
        template,
        role=role,
        nav=job.kind,
        job=job,
        tables=tables(job),
        as_of=as_of(job),
    )


@router.get("/jobs/{job_id}/{name}.{fmt}")
async def job_download(request: Request, job_id: str, name: str, fmt: str) -> Response:
    await signed_in(request)
    job = _job(request, job_id)
    found = tables(job) if job is not None else {}
    if fmt not in FORMATS or name not in found:
        return HTMLResponse("<p>No such table.</p>", 404)
    return file_response(found[name], name, fmt)


def as_of(job: Job) -> dt.date | None:
    """The day the answer's plans are made as of, which its tables say (none while running
    or failed): the live plan's, which both the what-if and the sizing start from."""
    if job.result is None:
        return None
    plan = job.result.plans[0] if job.kind == "what-if" else job.result.plan
    day: dt.date = plan.scenario.now
    return day


def tables(job: Job) -> dict[str, pl.DataFrame]:
    """The answer's tables by name (none while running or failed)."""
    if job.result is None:
        return {}
    if job.kind == "what-if":
        cmp = job.result
        return {"waits": cmp.waits(), "deliveries_by_month": cmp.deliveries_by_month()}
    sm: dict[str, Any] = job.result.summary()
    facts = pl.DataFrame(
        {
            "figure": [
                "target",
                "met",
                "wait without levers (days)",
                "wait with them (days)",
                "cost",
            ],
            "value": [
                sm["target"],
                "yes" if sm["met"] else "no: the levers below are all at their maximum",
                f"{sm['baseline_days']:,.0f}",
                f"{sm['achieved_days']:,.0f}",
                f"{sm['cost']:,.0f}",
            ],
        }
    )
    levers = pl.DataFrame(
        sm["levers"], schema={"lever": pl.String, "units": pl.Int64, "start": pl.String}
    )
    return {"sizing": facts, "levers": levers}
