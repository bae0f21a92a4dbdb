"""The pages as one part of the server (promiseline/server.py puts them on the service's
app): the dashboard's, the studies' and the customer's routes, the static files, and the
answer the pages' preamble gives (web/deps.py)."""

from __future__ import annotations

from fastapi import FastAPI

from promiseline.web import customer, pages, studies
from promiseline.web.deps import PageRefusedError, answer
from promiseline.web.render import static


def add_pages(app: FastAPI) -> None:
    app.add_exception_handler(PageRefusedError, answer)
    for r in (pages.router, customer.router, studies.router):
        app.include_router(r)
    app.mount("/static", static, name="static")
