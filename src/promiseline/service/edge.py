"""Per-client limits at the edge: how often one client address may take orders, ask for
quotes, open event streams and mint one-time page links, and how often one order (its
token) may mint links. Rates are counted by the `limits` library in this process's
memory (each worker process counts for itself); concurrent event streams are counted by
the event feed (service/notify.py), which knows when a stream closes.

The client address is the socket peer. Behind a reverse proxy, `--trust-proxy` names the
proxies whose X-Forwarded-For is believed (uvicorn's ProxyHeadersMiddleware rewrites the
peer then; from any other peer the header is ignored), so a client cannot choose its own
address by sending the header.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import MutableMapping
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from promiseline.errors import PromiselineError, TooManyRequestsError

# (method, path pattern) -> the kind of per-address limit it counts against
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/v1/orders"), "orders"),
    ("GET", re.compile(r"/v1/quote"), "quotes"),
    ("POST", re.compile(r"/v1/orders/[^/]+/page-link"), "links"),
    ("GET", re.compile(r"/v1/orders/[^/]+/events"), "streams"),
    ("GET", re.compile(r"/o/[^/]+/events"), "streams"),
)
WHAT = {
    "orders": "new orders",
    "quotes": "quotes",
    "links": "one-time page links",
    "streams": "event streams opened",
    "order_links": "one-time page links for this order",
}


class RateLimitedError(TooManyRequestsError):
    """A client over one of its rates; says when to come back."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def rates(name: str, text: str) -> list[RateLimitItem]:
    """Rates in the `limits` notation, e.g. '5000/second;200000/minute' (ValueError names
    the setting and what was expected)."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if not items or any(i.amount < 1 for i in items):
        raise PromiselineError(
            f"{name}: expected rates such as '20/minute' or '5000/second;200000/minute' "
            f"(COUNT/second|minute|hour|day, joined by ';'), got {text!r}"
        )
    return items


class ClientLimits:
    """The rates of one process: counters in memory, gone on restart (a limit, not a
    ledger). Large counts use fixed windows (a counter each, cheap at thousands a
    second); the small link counts a moving window (exact: no double burst at a window's
    edge)."""

    def __init__(self, limits: dict[str, list[RateLimitItem]]) -> None:
        self.limits = limits
        storage = MemoryStorage()
        self._fixed = FixedWindowRateLimiter(storage)
        self._moving = MovingWindowRateLimiter(storage)

    @classmethod
    def of(cls, settings: object) -> ClientLimits:
        """From the service's Settings (its `limit_*` rates; typed loosely: settings.py
        checks its rates with this module, which must not import it back)."""
        return cls(
            {
                kind: rates(kind, getattr(settings, f"limit_{kind}"))
                for kind in ("orders", "quotes", "links", "streams", "order_links")
            }
        )

    def hit(self, kind: str, who: str) -> None:
        """Count one `kind` for `who` (a client address or an order id); raises
        RateLimitedError, counting nothing, if any of its rates is used up."""
        items = self.limits.get(kind, [])
        limiter = self._moving if kind.endswith("links") else self._fixed
        over = [i for i in items if not limiter.test(i, kind, who)]
        if not over:
            for i in items:
                limiter.hit(i, kind, who)
            return
        reset = max(limiter.get_window_stats(i, kind, who).reset_time for i in over)
        wait = max(1, math.ceil(reset - time.time()))
        rate = "; ".join(f"{i.amount} per {_period(i)}" for i in over)
        raise RateLimitedError(
            f"too many {WHAT.get(kind, kind)} from this "
            f"{'order' if kind == 'order_links' else 'address'} ({rate}); "
            f"try again in {wait} s",
            wait,
        )


def _period(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


def client_address(scope: MutableMapping[str, Any]) -> str:
    """The client's address (the peer, or a trusted proxy's X-Forwarded-For, which
    uvicorn has already put in place of the peer)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def check_rates(limits: ClientLimits, scope: MutableMapping[str, Any]) -> None:
    """Count a request against its client address's rate, if its route has one
    (RateLimitedError past it); the guard calls this before reading anything else."""
    kind = _kind(scope["method"], scope["path"])
    if kind is not None:
        limits.hit(kind, client_address(scope))


def _kind(method: str, path: str) -> str | None:
    for m, pattern, kind in ROUTES:
        if m == method and pattern.fullmatch(path):
            return kind
    return None
