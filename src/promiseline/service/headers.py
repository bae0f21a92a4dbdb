"""Security headers on every response: a strict Content-Security-Policy (the pages load
everything from this server and run no inline script or style), no framing, no content
sniffing, no referrer (a customer page's address must not travel to another site).

FastAPI's interactive docs (/docs, /redoc) are the one exception to the policy's
sources: they load Swagger UI or ReDoc from a CDN with an inline start-up script, so they
get a policy that allows exactly that, and keep every other header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {CDN}; "
    f"style-src 'self' 'unsafe-inline' {CDN}; img-src 'self' data: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS = ("/docs", "/docs/oauth2-redirect", "/redoc")
COMMON = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def secured(scope: Scope, send: Send) -> Send:
    """`send` that adds the headers to the response's start (an answer that sets one
    itself keeps its own); the guard sends everything through it, its own answers too."""
    csp = DOCS_CSP if scope["path"] in DOCS else CSP
    extra = ((b"content-security-policy", csp.encode()), *COMMON)

    async def send_with_headers(msg: Message) -> None:
        if msg["type"] == "http.response.start":
            headers = list(msg.get("headers", []))
            have = {bytes(k).lower() for k, _ in headers}
            headers += [(k, v) for k, v in extra if k not in have]
            msg["headers"] = headers
        await send(msg)

    return send_with_headers
