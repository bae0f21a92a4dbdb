"""Connection hygiene below the ASGI app: a deadline for a request's headers, and a cap on
the connections one client address holds at once (per worker process).

Why not in the ASGI layer: an ASGI app is called only once a request's headers are
complete, so a client that sends its headers a line at a time (slowloris) never reaches
it. uvicorn has no header timeout of its own (its keep-alive timeout runs only between
requests and stops at the first byte of the next one), nor a per-address cap. So
`promiseline serve` runs uvicorn with these subclasses of uvicorn's own HTTP protocols
(uvicorn's `http` setting takes a protocol class); they only add timers and counts around
the parser and leave the parsing to uvicorn. The body's deadline is the guard's
(service/guard.py), the connection cap of the whole process uvicorn's limit_concurrency.

Behind a reverse proxy, every connection comes from the proxy: trusted proxies
(--trust-proxy) are not capped here, and the proxy must limit its clients' connections
and time out slow headers and bodies itself (README, "Behind a proxy").
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections import Counter
from typing import Any

import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from promiseline.service.settings import Settings

OPEN: Counter[str] = Counter()  # connections open per client address, in this process
RETRY_AFTER_S = 5


@functools.cache
def _settings() -> Settings:
    """The worker's settings (`promiseline serve` puts them in the environment)."""
    return Settings.from_env()


@functools.cache
def _trusted() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in _settings().trusted_proxies)


def _is_trusted(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in _trusted())


def _raw(status: str, detail: str, headers: str = "") -> bytes:
    """A whole HTTP/1.1 answer that closes the connection."""
    body = orjson.dumps({"detail": detail})
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{headers}\r\n"
    )
    return head.encode() + body


class Watch:
    """The timers and counts of one connection; its protocol calls it around uvicorn's."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol  # uvicorn's: .cycle is the request whose headers are in
        self.transport: asyncio.Transport | None = None
        self.host: str | None = None  # counted under this address
        self.timer: asyncio.TimerHandle | None = None
        self.refused = False

    def made(self, transport: asyncio.Transport) -> None:
        """A new connection: refused if its address holds its share, else the header
        deadline starts."""
        self.transport = transport
        client = self.protocol.client
        host = str(client[0]) if client else ""
        settings = _settings()
        if host and not _is_trusted(host):
            if OPEN[host] >= settings.connections_per_client:
                self.refused = True
                detail = (
                    f"{settings.connections_per_client} connections are open from this "
                    "address; close one"
                )
                transport.write(
                    _raw("429 Too Many Requests", detail, f"retry-after: {RETRY_AFTER_S}\r\n")
                )
                transport.close()
                return
            OPEN[host] += 1
            self.host = host
        self._arm()

    def before(self) -> None:
        """Bytes arrived: the first of a new request starts its header deadline."""
        if self.timer is None and self._between_requests():
            self._arm()

    def after(self) -> None:
        """Bytes parsed: once the headers are whole, the app has the request (its body
        has the guard's deadline)."""
        if self.timer is not None and not self._between_requests():
            self.timer.cancel()
            self.timer = None

    def lost(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.host is not None:
            OPEN[self.host] -= 1
            if OPEN[self.host] <= 0:
                del OPEN[self.host]
            self.host = None

    def _between_requests(self) -> bool:
        cycle = self.protocol.cycle
        return cycle is None or bool(cycle.response_complete)

    def _arm(self) -> None:
        seconds = _settings().header_timeout_s
        self.timer = asyncio.get_running_loop().call_later(seconds, self._expired, seconds)

    def _expired(self, seconds: float) -> None:
        self.timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or not self._between_requests():
            return
        detail = f"the request headers did not arrive whole within {seconds:g} s"
        transport.write(_raw("408 Request Timeout", detail))
        transport.close()


class _Hygiene(asyncio.Protocol):
    """The header deadline and the per-address cap, mixed into one of uvicorn's HTTP
    protocols (before it in the bases)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watch = Watch(self)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.watch.made(transport)

    def data_received(self, data: bytes) -> None:
        if self.watch.refused:
            return
        self.watch.before()
        super().data_received(data)
        self.watch.after()

    def connection_lost(self, exc: Exception | None) -> None:
        self.watch.lost()
        super().connection_lost(exc)


class H11Hygiene(_Hygiene, H11Protocol):
    """uvicorn's h11 protocol with the header deadline and the per-address cap."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # no httptools: uvicorn's h11 protocol
    HttpProtocol: type[asyncio.Protocol] = H11Hygiene
else:

    class HttpToolsHygiene(_Hygiene, HttpToolsProtocol):
        """uvicorn's httptools protocol (its fastest) with the header deadline and the
        per-address cap."""

    HttpProtocol = HttpToolsHygiene
