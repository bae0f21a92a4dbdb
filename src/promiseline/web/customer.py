"""A customer's order page (/o/{order_id}): opened once with the order's token, or with a
one-time link, and kept open by a cookie valid for that order only (its path and its
signature both name it). Lock and cancel ask for a confirmation that states the deposit
rule; the page follows the order's events live (Server-Sent Events)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from promiseline.core.model.lifecycle import Status
from promiseline.errors import NotFoundError, PromiselineError, UnauthorizedError
from promiseline.service.edge import client_address
from promiseline.web import i18n
from promiseline.web.deps import check_csrf, desk_of, forbidden, signer
from promiseline.web.render import page
from promiseline.web.session import ORDER, ORDER_S, csrf_ok, set_cookie

router = APIRouter(include_in_schema=False)
ACTIONS = ("lock", "change", "cancel")


def _opened(request: Request, order_id: str) -> bool:
    fields = signer(request).check(ORDER, request.cookies.get(ORDER))
    return fields == [order_id]


def _open(request: Request, order_id: str) -> Response:
    """Back to the page, now with the order's cookie (and a clean address)."""
    response = RedirectResponse(f"/o/{order_id}", status_code=303)
    value = signer(request).sign(ORDER, order_id, seconds=ORDER_S)
    set_cookie(request, response, ORDER, value, ORDER_S, path=f"/o/{order_id}")
    return response


def _ask_token(
    request: Request, order_id: str, error: bool = False, code: str | None = None
) -> Response:
    """The door of an order's page: the token form, or a one-time link's button."""
    lang = i18n.pick(request)
    return page(
        request,
        "customer_token.html",
        401 if error else 200,
        order_id=order_id,
        code=code,
        lang=lang,
        w=i18n.WORDS[lang],
        error=error,
    )


@router.get("/o/{order_id}")
async def order_page(
    request: Request, order_id: str, code: str | None = None, confirm: str | None = None
) -> Response:
    if code is not None:  # a one-time link: used by the customer's click, not by a GET
        return _ask_token(request, order_id, code=code)  # (mail scanners fetch links)
    if not _opened(request, order_id):
        return _ask_token(request, order_id)
    return await _render(request, order_id, confirm if confirm in ACTIONS else None)


async def _render(
    request: Request, order_id: str, confirm: str | None, error: str | None = None
) -> Response:
    desk = desk_of(request)
    lang = i18n.pick(request)
    w = i18n.WORDS[lang]
    try:
        view = await desk.view(order_id)
    except NotFoundError:
        return _ask_token(request, order_id, error=True)
    rec = view.record
    window = None
    if view.window is not None and view.window.earliest is not None:
        window = i18n.window_words(view.window, lang)
    try:
        why = (
            i18n.why(desk.explain(order_id), lang)
            if rec.status in (Status.LOCKED, Status.SCHEDULED)
            else None
        )
    except NotFoundError:
        why = None
    moves = []
    for e in view.events:
        if e.kind.value == "eta_changed":
            before, after = e.data.get("from", {}), e.data.get("to", {})
            moves.append(
                w["moved"].format(
                    day=i18n.day(e.at.date(), lang),
                    before=_span(before, lang),
                    after=_span(after, lang),
                )
            )
    refund = None
    if confirm == "cancel":
        refund = desk.refund_due(rec.status, rec.locked_at)
    return page(
        request,
        "customer.html",
        409 if error else 200,
        error=error,
        variants=desk.variants(rec.model) if confirm == "change" else [],
        view=view,
        rec=rec,
        window=window,
        why=why,
        moves=moves,
        lang=lang,
        w=w,
        confirm=confirm,
        refund=refund,
        status_words=w.get(f"status_{rec.status.value}", rec.status.value),
    )


def _span(window: dict[str, str], lang: str) -> str:
    """A told window's dates in the customer's words."""
    days = [window.get(k) for k in ("earliest", "latest")]
    if not all(days):
        return "—"
    e, la = (i18n.day(dt.date.fromisoformat(str(d)), lang) for d in days)
    return e if e == la else f"{e} – {la}"


@router.post("/o/{order_id}/open")
async def open_with_token(
    request: Request,
    order_id: str,
    token: Annotated[str, Form(max_length=100)],
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    if not csrf_ok(request, csrf):
        return _ask_token(request, order_id, error=True)
    try:
        desk_of(request).check_token(order_id, token.strip())
        await desk_of(request).exists(order_id)
    except (UnauthorizedError, NotFoundError):
        return _ask_token(request, order_id, error=True)
    return _open(request, order_id)


@router.post("/o/{order_id}/link")
async def open_with_link(
    request: Request,
    order_id: str,
    code: Annotated[str, Form()] = "",  # any junk is just a code that opens nothing
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    if csrf_ok(request, csrf) and await desk_of(request).use_page_link(code, order_id):
        return _open(request, order_id)
    return _ask_token(request, order_id, error=True)


@router.post("/o/{order_id}/{action}")
async def act(
    request: Request,
    order_id: str,
    action: str,
    csrf: Annotated[str, Form(max_length=64)] = "",
    variant: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    """Lock, change or cancel, after the customer confirmed on the page; what the
    policy refuses is said on the page."""
    if action not in ACTIONS or not csrf_ok(request, csrf):
        return forbidden()
    if not _opened(request, order_id):
        return _ask_token(request, order_id)
    desk = desk_of(request)
    try:
        if action == "lock":
            await desk.lock(order_id)
        elif action == "change":
            await desk.change(order_id, variant or None, None)
        else:
            await desk.cancel(order_id)
    except PromiselineError as e:
        return await _render(request, order_id, None, error=str(e))
    return RedirectResponse(f"/o/{order_id}", status_code=303)


@router.post("/lang")
async def language(
    request: Request,
    lang: Annotated[str, Form(max_length=8)],
    back: Annotated[str, Form(max_length=256)] = "/",
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(request, csrf)
    chosen = lang if lang in i18n.LANGS else "en"
    target = back if back.startswith("/o/") and "//" not in back else "/"
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, "lang", chosen, 365 * 86400)
    return response


@router.get("/o/{order_id}/events")
async def events(request: Request, order_id: str) -> Response:
    """The order's new events, for the page to refresh itself."""
    if not _opened(request, order_id):
        return Response(status_code=401)
    desk = desk_of(request)
    return StreamingResponse(
        desk.events(order_id, await desk.last_event_id(), client_address(request.scope)),
        media_type="text/event-stream",
    )
