"""The planner dashboard: sign-in, the overview, the orders and one order's page, and
every table as CSV or Excel. It calls only the order desk (as the HTTP API does)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from promiseline.core.model.lifecycle import Status
from promiseline.core.model.progress import Report
from promiseline.core.model.records import OrderFilter, OrderPage
from promiseline.core.readout.overview import Overview
from promiseline.errors import (
    InvalidRequestError,
    NotFoundError,
    PromiselineError,
    ScenarioError,
    TooManyRequestsError,
    TransitionError,
    UnauthorizedError,
)
from promiseline.io.scenario_file import line_of
from promiseline.service.desk import OrderDesk
from promiseline.service.guard import MAX_SCENARIO_BODY, body_limit
from promiseline.service.problems import RETRY_AFTER_S
from promiseline.web.cells import defuse
from promiseline.web.deps import caller, check_csrf, desk_of, session_of, signed_in, signer
from promiseline.web.overview_view import heatmap
from promiseline.web.render import page
from promiseline.web.sequence_view import CAR_H, CELL, PER_ROW, TICK_H, strip
from promiseline.web.session import SESSION, SESSION_S, set_cookie

router = APIRouter(include_in_schema=False)
PAGE = 50
XLSX_MAX_ROWS = 100_000  # an xlsx is written in Python: 500k rows take ~1 min and 2 GB
FORMATS = ("csv", "xlsx")
CSV_ROWS = 20_000  # a CSV download is encoded this many rows at a time
GONE_POLL_S = 0.5  # how often a download's reading asks whether its client left
T = TypeVar("T")


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=256)] = "/",
) -> Response:
    check_csrf(request, csrf)
    desk = desk_of(request)
    try:
        found = await desk.sign_in(key.strip())
    except UnauthorizedError:
        return page(request, "login.html", 401, next=_safe_next(next), error="unknown key")
    session = await desk.open_session(found.key_id, SESSION_S)
    response = RedirectResponse(_safe_next(next), status_code=303)
    value = signer(request).sign(SESSION, session, seconds=SESSION_S)
    set_cookie(request, response, SESSION, value, SESSION_S)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    check_csrf(request, csrf)
    session = session_of(request)
    if session:
        await desk_of(request).end_session(session)  # a copy of the cookie is dead too
    response = RedirectResponse("/login", status_code=303)
    set_cookie(request, response, SESSION, "", 0)
    return response


@router.get("/")
async def overview_page(request: Request) -> Response:
    role = await signed_in(request)
    ov = await desk_of(request).overview()
    return page(request, "overview.html", role=role, ov=ov, heat=heatmap(ov), nav="overview")


@router.get("/overview.json")
async def overview_data(request: Request) -> Response:
    """The charts' data and the live figures (polled by the page)."""
    await signed_in(request)
    desk = desk_of(request)
    ov = await desk.overview()
    sm = desk.plan_summary()
    live = {
        "plan_age_s": sm["plan_age_s"],
        "booked_since_plan": sm["booked_since_plan"],
        "taken_last_10_min": await desk.taken_since(600),
        "as_of": sm["as_of"],
        "monte_carlo": sm["monte_carlo"],
        "now": time.time(),
    }
    return JSONResponse(ov.to_json() | {"live": live})


def _filter(
    status: str | None,
    model: str | None,
    variant: str | None,
    market: str | None,
) -> OrderFilter:
    """The filter asked for; InvalidRequestError for a status that does not exist (a
    typo must not list every order). With `bound_by` (what the plan says) a status narrows
    the plan's orders by their status in its book: held back and locked, or scheduled."""
    statuses = {s.value for s in Status}
    if status and status not in statuses:
        raise InvalidRequestError(f"status must be one of {sorted(statuses)}, got {status!r}")
    return OrderFilter(
        Status(status) if status else None, model or None, variant or None, market or None
    )


async def _page(
    desk: OrderDesk,
    where: OrderFilter,
    bound_by: str | None,
    after: str | None,
    limit: int,
    overdue: bool = False,
    by_queue: bool = False,
) -> OrderPage:
    if bound_by or overdue:  # what the current plan says of them
        return await desk.orders_bound_by(bound_by, where, after, limit, overdue)
    return await desk.orders(where, after, limit, by_queue)


@router.get("/orders")
async def orders_page(
    request: Request,
    q: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    model: Annotated[str | None, Query(max_length=64)] = None,
    variant: Annotated[str | None, Query(max_length=64)] = None,
    market: Annotated[str | None, Query(max_length=64)] = None,
    bound_by: Annotated[str | None, Query(max_length=128)] = None,
    overdue: Annotated[str | None, Query(max_length=1, pattern="^1?$")] = None,
    sort: Annotated[str | None, Query(pattern="^(queue|id)?$")] = None,
    after: Annotated[str | None, Query(max_length=140)] = None,  # POSITION|ORDER_ID
) -> Response:
    role = await signed_in(request)
    desk = desk_of(request)
    if q:  # search by id: straight to the order
        try:
            await desk.exists(q.strip())
        except NotFoundError:
            pass
        else:
            return RedirectResponse(f"/orders/{q.strip()}", status_code=303)
    filters = {
        "status": status or "",
        "model": model or "",
        "variant": variant or "",
        "market": market or "",
        "bound_by": bound_by or "",
        "overdue": overdue or "",
        "sort": sort or "",
    }
    error = None
    try:
        where = _filter(status, model, variant, market)
        by_queue = sort != "id"  # the queue first, as a planner reads it (id: by order id)
        result = await _page(
            desk, where, bound_by or None, after or None, PAGE, overdue == "1", by_queue
        )
    except InvalidRequestError as e:
        error, result = str(e), OrderPage([], 0, None)
    rows = [(r, desk.plan_row(r.order_id)) for r in result.orders]
    ov = await desk.overview()
    query = urlencode({k: v for k, v in filters.items() if v})
    partial = bool(request.headers.get("hx-request"))
    return page(
        request,
        "orders_table.html" if partial else "orders.html",
        422 if error and not partial else 200,  # htmx swaps in only a 2xx: the error shows
        role=role,
        nav="orders",
        rows=rows,
        result=result,
        filters=filters,
        query=query,
        next_query=urlencode(
            {k: v for k, v in filters.items() if v} | {"after": result.next_after or ""}
        ),
        error=error,
        searched=q or "",
        statuses=[s.value for s in Status],
        choices=_choices(ov),
        as_of=desk.plan_day(),
    )


def _choices(ov: Overview) -> dict[str, list[str]]:
    """What the filters offer: what the plan holds."""
    return {
        "model": ov.waits["model"]["model"].to_list(),
        "variant": sorted(set(ov.waits["variant"]["variant"].to_list())),
        "market": ov.waits["market"]["market"].to_list(),
        "bound_by": sorted(set(ov.binding["constraint"].to_list())),
    }


@router.get("/orders/{order_id}")
async def order_page(request: Request, order_id: str) -> Response:
    role = await signed_in(request)
    desk = desk_of(request)
    try:
        view = await desk.view(order_id)
    except NotFoundError:
        return page(request, "missing.html", 404, role=role, nav="orders", order_id=order_id)
    try:
        explanation = desk.explain(order_id).text()
    except NotFoundError:
        explanation = None
    moves = [e for e in view.events if e.kind.value == "eta_changed"]
    return page(
        request,
        "order.html",
        role=role,
        nav="orders",
        view=view,
        row=desk.plan_row(order_id),
        explanation=explanation,
        moves=moves,
        lines=desk.lines_for(view.record.model),
        refused=None,
        as_of=desk.plan_day(),
    )


@router.post("/orders/{order_id}/schedule")
async def reschedule(
    request: Request,
    order_id: str,
    line: Annotated[str, Form(max_length=100)],
    build_date: Annotated[dt.date, Form()],
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A planner (re-)schedules an order, an overdue one say, by the plant's progress
    rule: a line that builds its model, a day from today inside the horizon."""
    role = await signed_in(request)
    check_csrf(request, csrf)
    desk = desk_of(request)
    try:
        await desk.progress(Report(order_id, Status.SCHEDULED, line, build_date), role)
    except (InvalidRequestError, TransitionError) as e:
        view = await desk.view(order_id)
        return page(
            request,
            "order.html",
            422,
            role=role,
            nav="orders",
            view=view,
            row=desk.plan_row(order_id),
            explanation=None,
            moves=[],
            lines=desk.lines_for(view.record.model),
            refused=str(e),
            as_of=desk.plan_day(),
        )
    return RedirectResponse(f"/orders/{order_id}?scheduled=1", status_code=303)


@router.get("/sequence")
async def sequence_page(
    request: Request,
    line: Annotated[str | None, Query(max_length=100)] = None,
    day: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """A line-day's build order (core/sequencing) as a strip: by default the first line
    with stations, on the first day from the plan's day it builds anything."""
    role = await signed_in(request)
    desk = desk_of(request)
    lines = desk.sequenced_lines()
    ctx: dict[str, Any] = {"role": role, "nav": "sequence", "lines": lines, "line": line}
    if not lines:
        return page(request, "sequence.html", **ctx, day=day, strip=None, refused=None)
    line = line if line is not None else lines[0]
    if line not in lines:
        refused = f"no line {line!r} with stations in the scenario; one of {', '.join(lines)}"
        return page(request, "sequence.html", 404, **ctx, day=None, strip=None, refused=refused)
    try:
        when = dt.date.fromisoformat(day) if day else desk.first_build_day(line)
    except ValueError:
        refused = f"the day must be a date as YYYY-MM-DD, got {day!r}"
        return page(request, "sequence.html", 422, **ctx, day=None, strip=None, refused=refused)
    ctx |= {"line": line, "day": when, "per_row": PER_ROW, "cell": CELL}
    ctx |= {"car_h": CAR_H, "tick_h": TICK_H}
    if when is None:
        refused = f"the plan builds nothing on {line} from {desk.plan_day()} on"
        return page(request, "sequence.html", 404, **ctx, strip=None, refused=refused)
    try:
        done = await desk.sequence_day(line, when)
    except (InvalidRequestError, NotFoundError) as e:
        return page(request, "sequence.html", 404, **ctx, strip=None, refused=str(e))
    drawn = strip(done)
    return page(
        request,
        "sequence.html",
        **ctx,
        strip=drawn,
        result=done.result,
        empty_carriers=done.empty_carriers,
        paint=done.paint,
        refused=None,
    )


@router.get("/scenario")
async def scenario_page(request: Request) -> Response:
    role = await signed_in(request)
    text = await desk_of(request).scenario_text()
    return page(request, "scenario.html", role=role, nav="scenario", text=text, notes=None)


@router.post("/scenario")
async def replace_scenario(request: Request) -> Response:
    """The same all-or-nothing path as PUT /v1/scenario: parsed, validated and planned,
    or refused with every problem shown beside the line it names. It takes the text the
    API takes (up to 1 MiB); a longer one comes back on the page with the limit. (The
    form is read here: a form field's default limit, 1 MiB encoded, is less.)"""
    role = await signed_in(request)
    form = await request.form(max_part_size=body_limit("POST", "/scenario"))
    csrf, text = form.get("csrf"), form.get("text")
    check_csrf(request, csrf if isinstance(csrf, str) else "")
    if not isinstance(text, str) or not text:
        notes = _annotated("", ["text: the scenario's YAML is missing"])
        return page(request, "scenario.html", 422, role=role, nav="scenario", text="", notes=notes)
    if len(text.encode()) > MAX_SCENARIO_BODY:
        notes = _annotated(text, [f"the scenario is over {MAX_SCENARIO_BODY:,} bytes"])
        return page(
            request, "scenario.html", 413, role=role, nav="scenario", text=text, notes=notes
        )
    try:
        await desk_of(request).replace_scenario(text)
    except ScenarioError as e:
        notes = _annotated(text, e.problems)
        return page(
            request, "scenario.html", 422, role=role, nav="scenario", text=text, notes=notes
        )
    except PromiselineError as e:
        notes = _annotated(text, [str(e)])
        return page(
            request, "scenario.html", 422, role=role, nav="scenario", text=text, notes=notes
        )
    return RedirectResponse("/scenario?saved=1", status_code=303)


def _annotated(text: str, problems: list[str]) -> dict[str, Any]:
    """The text's lines, each with the problems that name it, and those that name none."""
    by_line: dict[int, list[str]] = {}
    loose = []
    for p in problems:
        line = line_of(text, p)
        if line is None:
            loose.append(p)
        else:
            by_line.setdefault(line, []).append(p)
    lines = [(i, t, by_line.get(i, [])) for i, t in enumerate(text.splitlines(), start=1)]
    return {"lines": lines, "loose": loose, "count": len(problems)}


@router.get("/download/{name}.{fmt}")
async def download(
    request: Request,
    name: str,
    fmt: str,
    status: Annotated[str | None, Query(max_length=32)] = None,
    model: Annotated[str | None, Query(max_length=64)] = None,
    variant: Annotated[str | None, Query(max_length=64)] = None,
    market: Annotated[str | None, Query(max_length=64)] = None,
    bound_by: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    """Any table of the overview, or the orders a filter finds (all of them)."""
    await signed_in(request)
    if fmt not in FORMATS:
        return _plain(f"format must be one of {list(FORMATS)}", 404)
    desk = desk_of(request)
    if name == "orders":
        try:
            where = _filter(status, model, variant, market)
        except InvalidRequestError as e:
            return _plain(str(e), 422)
        stop = threading.Event()  # set when the client leaves: the read stops
        try:
            table = await until_gone(
                request, stop, _all_orders(desk, caller(request), where, bound_by, stop)
            )
        except TooManyRequestsError as e:
            return _plain(str(e), 429, {"Retry-After": str(RETRY_AFTER_S)})
        if table is None:
            return _plain("the client left", 499)
        if fmt == "xlsx" and table.height > XLSX_MAX_ROWS:
            return _plain(
                f"an Excel download holds up to {XLSX_MAX_ROWS:,} orders and this one has "
                f"{table.height:,}: download it as CSV, or filter it",
                413,
            )
        if fmt == "csv":
            return csv_stream(desk, table, name)
        return await desk.pools.download(caller(request), file_response, table, name, fmt)
    else:
        tables = (await desk.overview()).tables()
        if name not in tables:
            return _plain(f"no table {name!r}; one of {sorted(tables)}", 404)
        table = tables[name]
    return file_response(table, name, fmt)


async def until_gone(request: Request, stop: threading.Event, work: Awaitable[T]) -> T | None:
    """`work`'s answer, or None as soon as the client has left (then `stop` is set, and
    the thread behind it stops at its next slice of rows)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.wait({task}, timeout=GONE_POLL_S)
        if not task.done() and await request.is_disconnected():
            stop.set()
            task.add_done_callback(lambda t: t.exception())  # its StoppedError, seen
            return None
    return task.result()


def csv_stream(desk: OrderDesk, table: pl.DataFrame, name: str) -> Response:
    """A CSV written a slice of rows at a time on the downloads' pool, as the client
    reads it: one slice is encoded at once, and a client that leaves ends it."""

    async def chunks() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        for lo in range(0, max(table.height, 1), CSV_ROWS):
            part = table.slice(lo, CSV_ROWS)
            yield await loop.run_in_executor(desk.pools.heavy, _csv, part, lo == 0)

    return StreamingResponse(
        chunks(), media_type="text/csv; charset=utf-8", headers=_file_headers(name, "csv")
    )


def _csv(part: pl.DataFrame, header: bool) -> bytes:
    return defuse(part).write_csv(include_header=header).encode()  # no formulas (cells.py)


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """An error as plain text: whatever the request echoes back is never HTML."""
    return PlainTextResponse(text, status, headers={"Cache-Control": "no-store"} | (headers or {}))


async def _all_orders(
    desk: OrderDesk, who: str, where: OrderFilter, bound_by: str | None, stop: threading.Event
) -> pl.DataFrame:
    table = await desk.orders_table(who, where, stop)
    if bound_by:
        held = await desk.ids_bound_by(bound_by)
        table = table.filter(pl.col("order_id").is_in(held))
    return table


def file_response(table: pl.DataFrame, name: str, fmt: str) -> Response:
    table = defuse(table)  # no cell or header a spreadsheet runs as a formula
    buf = io.BytesIO()
    if fmt == "csv":
        table.write_csv(buf)
        media = "text/csv; charset=utf-8"
    else:
        table.write_excel(buf, worksheet=name[:31], autofit=table.height <= 10_000)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(buf.getvalue(), media_type=media, headers=_file_headers(name, fmt))


def _file_headers(name: str, fmt: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
        "Cache-Control": "no-store",
    }


def _safe_next(target: str) -> str:
    """Only a path on this server (no open redirect)."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/"
