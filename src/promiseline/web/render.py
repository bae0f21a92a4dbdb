"""Pages as HTTP answers: the templates (web/templating.py) with this browser's CSRF
token, and the static files, both inside the package."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from promiseline.web.session import CSRF, SESSION_S, csrf_for, set_cookie
from promiseline.web.templating import DEFAULTS, HERE, env

templates = Jinja2Templates(env=env)
static = StaticFiles(directory=HERE / "static")


def page(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    """A page with this browser's CSRF token in its forms (set as a cookie if new)."""
    token, new = csrf_for(request)
    context = {**DEFAULTS, "csrf": token, **ctx}
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if new:
        set_cookie(request, response, CSRF, token, SESSION_S * 3)
    return response
