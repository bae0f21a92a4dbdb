"""The service's settings: one object, read from the environment (PROMISELINE_*) by every
worker process, checked before anything starts.

PROMISELINE_DB              database URL (default sqlite:///promiseline.db)
PROMISELINE_SCENARIO        scenario YAML for an empty database (see `serve --help`)
PROMISELINE_ADMIN_KEY       an admin API key to register at start, 32 characters or more
PROMISELINE_PEPPER          secret mixed into every stored API-key hash (else one kept in
                            the database, with a warning)
PROMISELINE_WEBHOOKS        space-separated URLs that receive eta_changed events
PROMISELINE_WEBHOOK_SECRET  signing secret of the deliveries (Standard Webhooks): whsec_ and
                            the base64 of 24 random bytes or more, or 24+ characters
PROMISELINE_DEBOUNCE        seconds between a change and the re-plan (default 1)
PROMISELINE_PUBLIC_BACKLOG  1: anonymous quotes and /healthz show backlog sizes
PROMISELINE_PUBLIC_METRICS  1: /metrics needs no key
PROMISELINE_AS_OF           plan as of this fixed plant-local moment (demos, tests; default:
                            the clock, in the scenario's time zone)
PROMISELINE_SIMULATE_PLANT  1: a simulated plant reports progress each day as the plan says
                            (service/plant.py; needs the clock, not a fixed as_of)
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, fields

from promiseline.core.model.lifecycle import Policy
from promiseline.errors import PromiselineError
from promiseline.service.webhook_key import signing_key

DEFAULT_DB = "sqlite:///promiseline.db"
MIN_ADMIN_KEY = 32
MIN_SECRET = 24


@dataclass(frozen=True, slots=True)
class Settings:
    db: str = DEFAULT_DB
    scenario: str | None = None
    admin_key: str | None = None
    pepper: str | None = None
    webhooks: tuple[str, ...] = ()
    webhook_secret: str | None = None
    webhook_timeout_s: float = 5.0
    webhook_attempts: int = 8
    webhook_senders: int = 4
    debounce_s: float = 1.0
    poll_s: float = 0.25  # how often the book's version is read (other workers' changes)
    lease_s: float = 15.0
    public_backlog: bool = False
    public_metrics: bool = False
    sse_per_order: int = 5
    sse_total: int = 10_000
    max_batch: int = 2000
    futures: int = 200  # Monte Carlo futures behind every window (0: plan stand-ins only)
    as_of: dt.datetime | None = None  # a fixed moment to plan as of (None: the clock)
    simulate_plant: bool = False  # report the plan's progress each day (service/plant.py)
    policy: Policy = field(default_factory=Policy)

    def __post_init__(self) -> None:
        key = self.admin_key
        if key is not None and (not key.isprintable() or " " in key):
            raise PromiselineError(
                "PROMISELINE_ADMIN_KEY / --admin-key: no spaces or control characters "
                "(it travels in an HTTP header)"
            )
        if self.admin_key is not None and len(self.admin_key) < MIN_ADMIN_KEY:
            raise PromiselineError(
                f"PROMISELINE_ADMIN_KEY / --admin-key: at least {MIN_ADMIN_KEY} characters, "
                f"got {len(self.admin_key)} (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)"
            )
        if self.webhooks and (self.webhook_secret or "").__len__() < MIN_SECRET:
            raise PromiselineError(
                "--webhook needs a signing secret of at least "
                f"{MIN_SECRET} characters: set PROMISELINE_WEBHOOK_SECRET "
                "(receivers check the webhook-signature header with it)"
            )
        if self.webhook_secret is not None:
            signing_key(self.webhook_secret)  # one clear line now, not a worker's traceback
        if not 0 <= self.futures <= 5000:
            raise PromiselineError(
                f"PROMISELINE_FUTURES / --futures: 0 to 5000, got {self.futures}"
            )
        if self.simulate_plant and self.as_of is not None:
            raise PromiselineError(
                "--simulate-plant needs the clock: with --as-of (PROMISELINE_AS_OF) the "
                "plant's day never turns, so there is no day to simulate"
            )
        for name in ("debounce_s", "poll_s", "webhook_timeout_s"):
            if not 0 < getattr(self, name) <= 3600:
                raise PromiselineError(
                    f"{name}: must be > 0 and <= 3600, got {getattr(self, name)}"
                )

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            db=env.get("PROMISELINE_DB", DEFAULT_DB),
            scenario=env.get("PROMISELINE_SCENARIO") or None,
            admin_key=env.get("PROMISELINE_ADMIN_KEY") or None,
            pepper=env.get("PROMISELINE_PEPPER") or None,
            webhooks=tuple(env.get("PROMISELINE_WEBHOOKS", "").split()),
            webhook_secret=env.get("PROMISELINE_WEBHOOK_SECRET") or None,
            debounce_s=_number("PROMISELINE_DEBOUNCE", env.get("PROMISELINE_DEBOUNCE", "1")),
            public_backlog=env.get("PROMISELINE_PUBLIC_BACKLOG") == "1",
            public_metrics=env.get("PROMISELINE_PUBLIC_METRICS") == "1",
            futures=_count("PROMISELINE_FUTURES", env.get("PROMISELINE_FUTURES", "200")),
            as_of=_moment("PROMISELINE_AS_OF", env.get("PROMISELINE_AS_OF") or None),
            simulate_plant=env.get("PROMISELINE_SIMULATE_PLANT") == "1",
        )

    def to_env(self) -> dict[str, str]:
        """What `from_env` reads back (worker processes get their settings this way)."""
        out = {
            "PROMISELINE_DB": self.db,
            "PROMISELINE_DEBOUNCE": str(self.debounce_s),
            "PROMISELINE_WEBHOOKS": " ".join(self.webhooks),
            "PROMISELINE_PUBLIC_BACKLOG": "1" if self.public_backlog else "0",
            "PROMISELINE_PUBLIC_METRICS": "1" if self.public_metrics else "0",
            "PROMISELINE_FUTURES": str(self.futures),
            "PROMISELINE_SIMULATE_PLANT": "1" if self.simulate_plant else "0",
        }
        for name, value in (
            ("PROMISELINE_SCENARIO", self.scenario),
            ("PROMISELINE_ADMIN_KEY", self.admin_key),
            ("PROMISELINE_PEPPER", self.pepper),
            ("PROMISELINE_WEBHOOK_SECRET", self.webhook_secret),
            ("PROMISELINE_AS_OF", self.as_of.isoformat() if self.as_of else None),
        ):
            if value:
                out[name] = value
        return out

    def replace(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        return Settings(**values)


def _moment(name: str, text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PromiselineError(
            f"{name}: expected a plant-local date or date-time such as 2025-06-27T09:00, "
            f"got {text!r}"
        ) from None
    if moment.tzinfo is not None:
        raise PromiselineError(f"{name}: a plant-local moment has no UTC offset, got {text!r}")
    return moment


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise PromiselineError(f"{name}: expected a number of seconds, got {text!r}") from None


def _count(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PromiselineError(f"{name}: expected a whole number, got {text!r}") from None
