"""Templates and static files, both inside the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from promiseline.web.session import CSRF, SESSION_S, csrf_for, set_cookie

HERE = Path(__file__).parent
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a name a template lacks is an error, not a blank
    )
)
templates.env.filters["thousands"] = lambda n: "" if n is None else f"{n:,}"
templates.env.filters["cell"] = lambda v: (
    ""
    if v is None
    else f"{v:,.1f}"
    if isinstance(v, float)
    else f"{v:,}"
    if isinstance(v, int)
    else v
)
static = StaticFiles(directory=HERE / "static")
DEFAULTS: dict[str, Any] = {"role": None, "nav": None, "inline": None, "lang": "en"}


def page(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    """A page with this browser's CSRF token in its forms (set as a cookie if new)."""
    token, new = csrf_for(request)
    context = {**DEFAULTS, "csrf": token, **ctx}
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if new:
        set_cookie(request, response, CSRF, token, SESSION_S * 3)
    return response
