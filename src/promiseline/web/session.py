"""Signed cookies for the pages: a planner's session and a customer's access to one order.

A cookie holds its fields, an expiry and an HMAC of both under a secret kept in the
database (every worker signs and checks alike; none of it can be forged or moved to
another order). CSRF: a random cookie that every form and htmx request repeats (double
submit); all cookies are HttpOnly and SameSite=Strict, and Secure over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

SESSION = "pl_session"
ORDER = "pl_order"
CSRF = "pl_csrf"
SESSION_S = 8 * 3600  # a working day
ORDER_S = 30 * 86400  # a customer comes back for weeks
LINK_S = 15 * 60  # a one-time link is used soon or not at all


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs and checks `field.field...expiry.mac` values."""

    secret: bytes

    def _mac(self, purpose: str, body: str) -> str:
        msg = f"{purpose}|{body}".encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()[:40]

    def sign(self, purpose: str, *fields: str, seconds: int, now: float | None = None) -> str:
        expiry = int((now if now is not None else time.time()) + seconds)
        body = ".".join([*(_b64(f) for f in fields), str(expiry)])
        return f"{body}.{self._mac(purpose, body)}"

    def check(self, purpose: str, value: str | None, now: float | None = None) -> list[str] | None:
        """The fields of a good, unexpired value; None otherwise."""
        if not value or len(value) > 512:
            return None
        body, _, mac = value.rpartition(".")
        if not hmac.compare_digest(self._mac(purpose, body).encode(), mac.encode()):
            return None
        *fields, expiry = body.split(".")
        if not expiry.isdigit() or int(expiry) < (now if now is not None else time.time()):
            return None
        return [base64.urlsafe_b64decode(f + "=" * (-len(f) % 4)).decode() for f in fields]


def _b64(field: str) -> str:
    """A field as URL-safe base64 without padding: any text, no dots."""
    return base64.urlsafe_b64encode(field.encode()).decode().rstrip("=")


def set_cookie(
    request: Request, response: Response, name: str, value: str, seconds: int, path: str = "/"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def csrf_for(request: Request) -> tuple[str, bool]:
    """This browser's CSRF token, and whether it is new (to be set as a cookie)."""
    token = request.cookies.get(CSRF)
    if token and len(token) == 43:
        return token, False
    return secrets.token_urlsafe(32), True


def csrf_ok(request: Request, sent: str | None) -> bool:
    cookie = request.cookies.get(CSRF)
    return bool(cookie and sent and hmac.compare_digest(cookie.encode(), sent.encode()[:64]))
