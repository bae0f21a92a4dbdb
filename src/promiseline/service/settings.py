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
PROMISELINE_REQUEST_THREADS, _DOWNLOADS, _DOWNLOADS_PER_CALLER, _JOBS, _JOBS_PER_CALLER,
_JOB_SECONDS, _JOB_MEMORY_MB, _JOBS_KEPT, _JOBS_KEPT_MB
                            how much work of each kind a worker takes on (service/pools.py)

Per client (service/edge.py; rates in the `limits` notation, e.g. '20/minute;100/hour'):
PROMISELINE_TRUSTED_PROXIES     proxy addresses whose X-Forwarded-For names the client
                                (default none: the client is the socket peer)
PROMISELINE_LIMIT_ORDERS        new orders per client address
PROMISELINE_LIMIT_QUOTES        quotes per client address
PROMISELINE_LIMIT_LINKS         one-time page links minted per client address
PROMISELINE_LIMIT_ORDER_LINKS   one-time page links minted per order (its token)
PROMISELINE_LIMIT_STREAMS       event streams opened per client address
PROMISELINE_STREAMS_PER_CLIENT  event streams open at once per client address
PROMISELINE_STREAMS_PER_ORDER   event streams open at once per order
Connections (service/connections.py, and uvicorn's own settings):
PROMISELINE_HEADER_TIMEOUT      seconds for a request's headers to arrive whole
PROMISELINE_BODY_TIMEOUT        seconds for a request's body to arrive whole
PROMISELINE_KEEP_ALIVE          seconds an idle kept-alive connection stays open
PROMISELINE_MAX_CONNECTIONS     connections (and requests) at once per worker process;
                                more are answered 503
PROMISELINE_CONNECTIONS_PER_CLIENT  connections at once per client address and worker
                                (not counted for trusted proxies); more are answered 429
PROMISELINE_BACKLOG             connections waiting to be accepted
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from promiseline.core.model.lifecycle import Policy
from promiseline.errors import PromiselineError
from promiseline.service.pools import WorkLimits
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
    sse_per_order: int = 3  # a customer's page, phone and one spare
    sse_total: int = 10_000
    sse_per_client: int = 20  # per client address: 500 addresses to fill sse_total
    trusted_proxies: tuple[str, ...] = ()
    limit_orders: str = "5000/second;200000/minute"
    limit_quotes: str = "200/second;6000/minute"
    limit_links: str = "30/minute;300/hour"
    limit_order_links: str = "5/minute;30/day"
    limit_streams: str = "120/minute"
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: int = 5
    max_connections: int = 12_000  # above sse_total; under the open-file limit
    connections_per_client: int = 256
    backlog: int = 2048
    max_batch: int = 2000
    futures: int = 200  # Monte Carlo futures behind every window (0: plan stand-ins only)
    forecast_processes: int = 2  # processes the Monte Carlo runs its futures in (nice 10)
    as_of: dt.datetime | None = None  # a fixed moment to plan as of (None: the clock)
    simulate_plant: bool = False  # report the plan's progress each day (service/plant.py)
    policy: Policy = field(default_factory=Policy)
    work: WorkLimits = field(default_factory=WorkLimits)  # pools, downloads and jobs

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
        if not 1 <= self.forecast_processes <= 64:
            raise PromiselineError(
                f"PROMISELINE_FORECAST_PROCESSES: 1 to 64, got {self.forecast_processes}"
            )
        if self.simulate_plant and self.as_of is not None:
            raise PromiselineError(
                "--simulate-plant needs the clock: with --as-of (PROMISELINE_AS_OF) the "
                "plant's day never turns, so there is no day to simulate"
            )
        for name in (
            "debounce_s",
            "poll_s",
            "webhook_timeout_s",
            "header_timeout_s",
            "body_timeout_s",
        ):
            if not 0 < getattr(self, name) <= 3600:
                raise PromiselineError(
                    f"{name}: must be > 0 and <= 3600, got {getattr(self, name)}"
                )

        self._check_edge()

    def _check_edge(self) -> None:
        """The per-client limits and connection settings (service/edge.py)."""
        from promiseline.service.edge import rates

        for name in LIMITS:
            rates(f"{_env(name)} / {_flag(name)}", getattr(self, name))
        for name, low, high in COUNTS:
            value = getattr(self, name)
            if not low <= value <= high:
                raise PromiselineError(
                    f"{_env(name)} / {_flag(name)}: a whole number from {low} to {high:,}, "
                    f"got {value}"
                )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise PromiselineError(
                    f"PROMISELINE_TRUSTED_PROXIES / --trust-proxy: expected an IP address or "
                    f"network such as 10.0.0.5 or 10.0.0.0/24, got {proxy!r}"
                ) from None

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
            forecast_processes=_count(
                "PROMISELINE_FORECAST_PROCESSES", env.get("PROMISELINE_FORECAST_PROCESSES", "2")
            ),
            as_of=_moment("PROMISELINE_AS_OF", env.get("PROMISELINE_AS_OF") or None),
            simulate_plant=env.get("PROMISELINE_SIMULATE_PLANT") == "1",
            work=WorkLimits.from_env(env),
        ).replace(**_edge_from_env(env))

    def to_env(self) -> dict[str, str]:
        """What `from_env` reads back (worker processes get their settings this way)."""
        out = {
            "PROMISELINE_DB": self.db,
            "PROMISELINE_DEBOUNCE": str(self.debounce_s),
            "PROMISELINE_WEBHOOKS": " ".join(self.webhooks),
            "PROMISELINE_PUBLIC_BACKLOG": "1" if self.public_backlog else "0",
            "PROMISELINE_PUBLIC_METRICS": "1" if self.public_metrics else "0",
            "PROMISELINE_FUTURES": str(self.futures),
            "PROMISELINE_FORECAST_PROCESSES": str(self.forecast_processes),
            "PROMISELINE_SIMULATE_PLANT": "1" if self.simulate_plant else "0",
            "PROMISELINE_TRUSTED_PROXIES": " ".join(self.trusted_proxies),
        } | self.work.to_env()
        for name in (*LIMITS, *TIMEOUTS, *(n for n, _, _ in COUNTS)):
            out[_env(name)] = str(getattr(self, name))
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


LIMITS = (
    "limit_orders",
    "limit_quotes",
    "limit_links",
    "limit_order_links",
    "limit_streams",
)
TIMEOUTS = ("header_timeout_s", "body_timeout_s")
COUNTS = (  # (name, lowest, highest)
    ("sse_per_client", 1, 1_000_000),
    ("sse_per_order", 1, 1000),
    ("keep_alive_s", 1, 3600),
    ("max_connections", 16, 1_000_000),
    ("connections_per_client", 1, 1_000_000),
    ("backlog", 1, 65535),
)
_ENV = {"sse_per_client": "STREAMS_PER_CLIENT", "sse_per_order": "STREAMS_PER_ORDER"}


def _env(name: str) -> str:
    """The environment variable of an edge setting: PROMISELINE_HEADER_TIMEOUT, ..."""
    return "PROMISELINE_" + _ENV.get(name, name.removesuffix("_s").upper())


def _flag(name: str) -> str:
    """The `serve` flag of an edge setting: --header-timeout, --streams-per-client, ..."""
    return "--" + _env(name).removeprefix("PROMISELINE_").lower().replace("_", "-")


def _edge_from_env(env: Mapping[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    if env.get("PROMISELINE_TRUSTED_PROXIES"):
        out["trusted_proxies"] = tuple(env["PROMISELINE_TRUSTED_PROXIES"].replace(",", " ").split())
    for name in LIMITS:
        if env.get(_env(name)):
            out[name] = env[_env(name)]
    for name in TIMEOUTS:
        if env.get(_env(name)):
            out[name] = _number(_env(name), env[_env(name)])
    for name, _, _ in COUNTS:
        if env.get(_env(name)):
            out[name] = _count(_env(name), env[_env(name)])
    return out


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
