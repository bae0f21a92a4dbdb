"""What-ifs and capacity sizing from the dashboard: a form, a job in the background with
the step it is on, and the answer side by side; every table downloads. The work is the
desk's (the same core functions as `promiseline compare` and `size`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import polars as pl
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from promiseline.errors import (
    NotFoundError,
    PromiselineError,
    ScenarioError,
    TooManyRequestsError,
)
from promiseline.service.guard import MAX_PATCH
from promiseline.service.jobs import Job
from promiseline.web.deps import caller, check_csrf, desk_of, signed_in
from promiseline.web.pages import FORMATS, file_response
from promiseline.web.render import page

router = APIRouter(include_in_schema=False)
LEVERS = ("shift", "line", "part")


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
    desk = desk_of(request)
    try:
        job = await desk.start_what_if(name, text, caller(request))
    except TooManyRequestsError as e:
        return _whatif_again(request, role, name, text, [_busy(request, e)], 429)
    except ScenarioError as e:
        return _whatif_again(request, role, name, text, e.problems)
    except PromiselineError as e:
        return _whatif_again(request, role, name, text, [str(e)])
    return RedirectResponse(f"/jobs/{job.job_id}", status_code=303)


def _busy(request: Request, e: TooManyRequestsError) -> str:
    """Why a job cannot start now, with a link to the one running."""
    running = desk_of(request).jobs.running_job()
    return f"{e} (running: /jobs/{running.job_id})" if running is not None else str(e)


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
        job = desk_of(request).start_sizing(target.strip(), chosen, caller(request))
    except TooManyRequestsError as e:
        return page(
            request,
            "sizing.html",
            429,
            role=role,
            nav="sizing",
            target=target,
            levers=LEVERS,
            chosen=chosen,
            error=_busy(request, e),
        )
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


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(
    request: Request, job_id: str, csrf: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    await signed_in(request)
    check_csrf(request, csrf)
    try:
        desk_of(request).cancel_job(job_id)
    except NotFoundError:
        return HTMLResponse("<p>No such job in this worker (they are kept for a while).</p>", 404)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


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
    return job.result.as_of if job.result is not None else None


def tables(job: Job) -> dict[str, pl.DataFrame]:
    """The answer's tables by name (none while running or failed)."""
    return job.result.tables if job.result is not None else {}
