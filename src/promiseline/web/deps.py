"""The pages' preamble, once: the desk, who is signed in, the CSRF check, and the answers
a page gives instead of itself (the sign-in page, an expired form).

`signed_in` and `check_csrf` raise `PageRefusedError`, which the server answers with the
page it carries (web/site.py registers `answer`). They are called first thing in a
route's body, not as FastAPI dependencies, so that a form or query FastAPI refuses is
refused before anyone is asked to sign in, as it always was."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from promiseline.service.desk import OrderDesk
from promiseline.web.session import SESSION, Signer, csrf_ok


class PageRefusedError(Exception):
    """A page refused, with what it answers instead: the way to sign in, or an expired
    form."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def answer(_: Request, e: Exception) -> Response:
    assert isinstance(e, PageRefusedError)
    return e.response


def desk_of(request: Request) -> OrderDesk:
    desk: OrderDesk = request.app.state.desk
    return desk


def signer(request: Request) -> Signer:
    return Signer(desk_of(request).page_secret)


def session_of(request: Request) -> str | None:
    """The session id the browser's signed cookie holds, if it is good."""
    fields = signer(request).check(SESSION, request.cookies.get(SESSION))
    return fields[0] if fields and len(fields) == 1 else None


async def who(request: Request) -> str | None:
    """The role of the signed-in planner or admin, None when signed out (a session
    whose key was revoked since ends at once)."""
    session = session_of(request)
    key = await desk_of(request).session_key(session) if session else None
    if key is not None:
        request.state.key_id = key.key_id  # whose share of downloads and jobs (caller)
    return key.role if key else None


async def signed_in(request: Request) -> str:
    """The signed-in planner's or admin's role; to the sign-in page otherwise."""
    role = await who(request)
    if role is None:
        raise PageRefusedError(to_login(request))
    return role


def caller(request: Request) -> str:
    """Who a signed-in page request is, for per-caller limits: the key behind its
    session (`signed_in` found it)."""
    key_id: str = request.state.key_id
    return key_id


def check_csrf(request: Request, sent: str) -> None:
    """The form repeats this browser's CSRF cookie; an expired-form page otherwise."""
    if not csrf_ok(request, sent):
        raise PageRefusedError(forbidden())


def to_login(request: Request) -> Response:
    if request.headers.get("hx-request"):  # a partial: have htmx load the sign-in page
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def forbidden() -> Response:
    return HTMLResponse("<p>This form has expired: reload the page and try again.</p>", 403)
