"""Signing in to the dashboard from a TestClient."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.service.conftest import ADMIN_KEY


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found[1]


def signed_in(client: TestClient, key: str = ADMIN_KEY) -> str:
    """Sign in with `key`; the browser's CSRF token."""
    csrf = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"key": key, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf
