"""A dashboard session ends with its key: rotating the bootstrap admin key or the pepper
ends the sessions of every key whose hash changed (the session row names a key id that
would otherwise stay, re-hashed, not revoked)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from promiseline.server import create_app
from tests.service.conftest import ADMIN, ADMIN_KEY, Clock, desk_maker, settings
from tests.store import conftest as store_fixtures
from tests.web.signin import signed_in

db_url = store_fixtures.db_url


def _start(db_url: str, **changes: Any) -> TestClient:
    return TestClient(create_app(desk_maker(settings(db_url, **changes), Clock())))


def _opens(c: TestClient, cookies: Any) -> bool:
    c.cookies = cookies
    return c.get("/", follow_redirects=False).status_code == 200


@pytest.mark.both_stores
def test_rotating_the_bootstrap_key_ends_its_sessions(db_url: str) -> None:
    """Signed in with the bootstrap admin key and with a planner key; the bootstrap key
    rotated in the environment: its old session cookie opens no page, the planner's
    still does (its key did not change)."""
    with _start(db_url) as c:
        planner = c.post("/v1/keys", json={"role": "planner"}, headers=ADMIN).json()["key"]
        signed_in(c, ADMIN_KEY)
        admin_cookies = c.cookies
        c.cookies = {}
        signed_in(c, planner)
        planner_cookies = c.cookies
        assert _opens(c, admin_cookies)
    with _start(db_url) as c:  # the same key again: sessions stay
        assert _opens(c, admin_cookies)
    with _start(db_url, admin_key=ADMIN_KEY[::-1]) as c:
        assert not _opens(c, admin_cookies)
        assert _opens(c, planner_cookies)


@pytest.mark.both_stores
def test_changing_the_pepper_ends_every_session(db_url: str) -> None:
    """A new pepper: no stored key hash matches its key any more, so no session of any key
    opens a page, and a restart with the same new pepper keeps new sessions."""
    with _start(db_url) as c:
        planner = c.post("/v1/keys", json={"role": "planner"}, headers=ADMIN).json()["key"]
        signed_in(c, planner)
        planner_cookies = c.cookies
        assert _opens(c, planner_cookies)
    with _start(db_url, pepper="another-pepper") as c:
        assert not _opens(c, planner_cookies)
        c.cookies = {}
        signed_in(c, ADMIN_KEY)  # the bootstrap key is registered anew under the pepper
        admin_cookies = c.cookies
    with _start(db_url, pepper="another-pepper") as c:
        assert _opens(c, admin_cookies)
