"""Start the service from settings (environment variables), one desk per worker process.

PROMISELINE_DB         database URL (default sqlite:///promiseline.db)
PROMISELINE_SCENARIO   scenario YAML file; default: the one stored by PUT /v1/scenario,
                       else the embedded demo scenario
PROMISELINE_ADMIN_KEY  an admin API key to register at start (bootstrap)
PROMISELINE_WEBHOOK    URL that receives eta_changed events (POST, retried)
PROMISELINE_DEBOUNCE   seconds to wait after a change before re-planning (default 1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from promiseline.core.scenario import Scenario
from promiseline.service.app import Guard, create_app
from promiseline.service.desk import DeskConfig, OrderDesk
from promiseline.store import SqlStore, open_store

DEFAULT_DB = "sqlite:///promiseline.db"


@dataclass(frozen=True, slots=True)
class Settings:
    db: str = DEFAULT_DB
    scenario: str | None = None
    admin_key: str | None = None
    webhook: str | None = None
    debounce_s: float = 1.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            db=env.get("PROMISELINE_DB", DEFAULT_DB),
            scenario=env.get("PROMISELINE_SCENARIO") or None,
            admin_key=env.get("PROMISELINE_ADMIN_KEY") or None,
            webhook=env.get("PROMISELINE_WEBHOOK") or None,
            debounce_s=float(env.get("PROMISELINE_DEBOUNCE", "1")),
        )

    def to_env(self) -> dict[str, str]:
        out = {"PROMISELINE_DB": self.db, "PROMISELINE_DEBOUNCE": str(self.debounce_s)}
        for name, value in (
            ("PROMISELINE_SCENARIO", self.scenario),
            ("PROMISELINE_ADMIN_KEY", self.admin_key),
            ("PROMISELINE_WEBHOOK", self.webhook),
        ):
            if value:
                out[name] = value
        return out


def scenario_for(settings: Settings, store: SqlStore) -> Scenario:
    """The file given, else the one stored by the API, else the demo."""
    import yaml

    from promiseline import api
    from promiseline.io.scenario_file import scenario_from_dict

    if settings.scenario:
        return api.load_scenario(settings.scenario)
    stored = store.setting("scenario_yaml")
    if stored:
        return scenario_from_dict(yaml.safe_load(stored), "stored scenario")
    return api.load_scenario(None)


def make_desk(settings: Settings) -> OrderDesk:
    store = open_store(settings.db)
    desk = OrderDesk(
        store,
        scenario_for(settings, store),
        config=DeskConfig(webhook_url=settings.webhook, debounce_s=settings.debounce_s),
    )
    if settings.admin_key:
        desk.ensure_key(settings.admin_key, "admin", "bootstrap-admin")
    return desk


def app_from_env() -> Guard:
    """uvicorn factory: `uvicorn promiseline.service.main:app_from_env --factory`."""

    settings = Settings.from_env()
    return create_app(lambda: make_desk(settings))
