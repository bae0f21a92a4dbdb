"""The server: the JSON service (service/) and the pages (web/) in one app, and what
uvicorn starts in each worker process, `uvicorn promiseline.server:app_from_env --factory`
(what `promiseline serve` runs). Above both, so that neither imports the other's way up:
the pages call the service, the service knows nothing of pages. The settings are
described in service/settings.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from promiseline.service.app import guarded, service_app
from promiseline.service.desk import Clock, OrderDesk
from promiseline.service.guard import Guard
from promiseline.service.settings import Settings
from promiseline.store import open_store
from promiseline.web.site import add_pages


def create_app(make_desk: Callable[[], OrderDesk]) -> Guard:
    """The JSON API and the pages, behind the guard; `make_desk` runs at start-up."""
    app = service_app(make_desk)
    add_pages(app)
    return guarded(app)


def make_desk(settings: Settings, clock: Clock = dt.datetime.now) -> OrderDesk:
    """The desk on the store the settings name (closed again if the desk cannot start)."""
    store = open_store(settings.db)
    try:
        return OrderDesk(store, settings, clock=clock)
    except BaseException:
        store.close()
        raise


def app_from_env() -> Guard:
    """The server from the PROMISELINE_* environment (`promiseline serve` sets it)."""
    settings = Settings.from_env()
    return create_app(lambda: make_desk(settings))
