"""Start the service from settings: `uvicorn promiseline.service.main:app_from_env
--factory` in each worker process (what `promiseline serve` runs). The settings are
described in service/settings.py."""

from __future__ import annotations

import datetime as dt

from promiseline.service.app import create_app
from promiseline.service.desk import OrderDesk
from promiseline.service.guard import Guard
from promiseline.service.settings import Settings
from promiseline.store import open_store


def make_desk(settings: Settings, clock: object = dt.datetime.now) -> OrderDesk:
    store = open_store(settings.db)
    try:
        return OrderDesk(store, settings, clock=clock)  # type: ignore[arg-type]
    except BaseException:
        store.close()
        raise


def app_from_env() -> Guard:
    settings = Settings.from_env()
    return create_app(lambda: make_desk(settings))
