"""The pages as one part of the server (promiseline/server.py puts them on the service's
app): the dashboard's, the studies' and the customer's routes, and the static files."""

from __future__ import annotations

from fastapi import FastAPI

from promiseline.web import customer, pages, studies
from promiseline.web.render import static


def add_pages(app: FastAPI) -> None:
    for r in (pages.router, customer.router, studies.router):
        app.include_router(r)
    app.mount("/static", static, name="static")
