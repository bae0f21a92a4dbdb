"""Real pages in a real browser: one `promiseline serve` (SQLite) and one headless
Debian chromium per module, driven by Playwright.

The server runs the tiny scenario moved to start today (the service plans from the
scenario's start and stamps orders with the real clock), with locked and reserved orders
made through the public API, so the charts, the tables and the customer pages hold data.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Request as PlaywrightRequest

from tests.service.conftest import ADMIN, padded
from tests.service.server import serving

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
LOCKED = 56  # with the reserved ones, more than a page of the orders table (50)
RESERVED = 6
TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Order:
    order_id: str
    token: str


@dataclass
class Site:
    """The running service, a planner key and the orders made at start."""

    base: str
    http: httpx.Client
    key: str
    locked: list[Order]
    reserved: list[Order]
    _spare: Iterator[Order] = field(init=False)

    def __post_init__(self) -> None:
        # the first is every test's page to look at, the last the one test_cancel cancels
        self._spare = iter(self.locked[1:-1])

    def take(self) -> Order:
        """A locked order no other test has used (tests that change or open orders)."""
        return next(self._spare)

    def order_json(self, o: Order) -> dict[str, Any]:
        r = self.http.get(f"/v1/orders/{o.order_id}", headers={"X-Order-Token": o.token})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def count(self, **where: str) -> int:
        """How many orders match, by the planner API."""
        r = self.http.get("/v1/orders", params={**where, "limit": 1}, headers=self.planner)
        assert r.status_code == 200, r.text
        return int(r.json()["count"])

    @property
    def planner(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def settle(self) -> None:
        """Re-plan now, so no window moves (and no customer page reloads) mid-test."""
        r = self.http.post("/v1/plan", headers=ADMIN)
        assert r.status_code == 200, r.text


def _from_today(http: httpx.Client) -> None:
    text = http.get("/v1/scenario", headers=ADMIN).text
    assert "start: 2025-01-01\n" in text, text[:200]
    text = text.replace("start: 2025-01-01\n", f"start: {dt.date.today().isoformat()}\n")
    text = text.replace("horizon_days: 60\n", "horizon_days: 120\n")
    r = http.put("/v1/scenario", content=text, headers=ADMIN | {"Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text


def signed_in(base: str, key: str) -> list[SetCookieParam]:
    """Sign in as a browser does (the form, its csrf field): the cookies it ends with."""
    with httpx.Client(base_url=base, timeout=30) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert csrf, "no csrf field on /login"
        r = c.post("/login", data={"key": key, "csrf": csrf.group(1)})
        assert r.status_code == 303, r.text
        assert "pl_session" in c.cookies
        return [
            {"name": name, "value": value, "url": base, "httpOnly": True, "sameSite": "Strict"}
            for name, value in c.cookies.items()
        ]


def _order(http: httpx.Client, n: int, variant: str, lock: bool) -> Order:
    body = {"model": "A", "variant": variant, "market": "CN", "lock": lock}
    r = http.post("/v1/orders", json=body, headers={"Idempotency-Key": padded(f"web-{n}")})
    assert r.status_code == 201, r.text
    return Order(r.json()["order_id"], r.json()["token"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("web")
    with (
        serving(f"sqlite:///{tmp}/web.db", tmp / "serve.log", "--futures", "0") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        _from_today(http)
        r = http.post("/v1/keys", json={"role": "planner"}, headers=ADMIN)
        assert r.status_code == 201, r.text
        locked = [_order(http, i, "M" if i % 4 == 3 else "S", True) for i in range(LOCKED)]
        reserved = [_order(http, LOCKED + i, "S", False) for i in range(RESERVED)]
        key = r.json()["key"]
        s = Site(base, http, key, locked, reserved)
        s.settle()
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the page tests drive Debian's chromium with Playwright. "
            "`make test` installs it (apt-get install chromium); Playwright's own browser "
            "download is not used.",
            pytrace=False,
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


@dataclass
class Watch:
    """What a page did wrong: console errors, uncaught exceptions, other hosts asked."""

    host: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._pageerror)
        page.on("request", self._request)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text} ({msg.location.get('url')})")

    def _pageerror(self, error: PlaywrightError) -> None:
        self.errors.append(f"pageerror: {error}")

    def _request(self, request: PlaywrightRequest) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc != self.host:
            self.foreign.append(request.url)
        if request.resource_type == "document":
            self.documents.append(request.url)

    def take(self) -> tuple[list[str], list[str]]:
        """The errors and other hosts so far, and start afresh (the next page)."""
        found = (self.errors[:], self.foreign[:])
        self.errors.clear()
        self.foreign.clear()
        return found

    def assert_clean(self, what: str, expected: int | None = None) -> None:
        """Nothing wrong; `expected`: an HTTP status the test asked for on purpose (a
        refused key or token answers 401, which chromium logs as a console error)."""
        said = f"the server responded with a status of {expected} "
        errors = [e for e in self.errors if expected is None or said not in e]
        assert not errors, f"{what}: errors in the page: {errors}"
        assert not self.foreign, f"{what}: requests to other hosts: {self.foreign}"


@dataclass
class Tab:
    page: Page
    context: BrowserContext
    watch: Watch


@pytest.fixture
def tab(browser: Browser, site: Site) -> Iterator[Callable[..., Tab]]:
    """Opens a page in a fresh browser context (its own cookies), watched from the start:
    `planner=True` for one signed in; other keyword arguments go to `new_context`."""
    contexts: list[BrowserContext] = []

    def make(planner: bool = False, **options: Any) -> Tab:
        context = browser.new_context(base_url=site.base, **options)
        context.set_default_timeout(TIMEOUT_MS)
        if planner:  # a session of its own (test_sign_in_and_out goes through the form)
            context.add_cookies(signed_in(site.base, site.key))
        contexts.append(context)
        page = context.new_page()
        watch = Watch(urlsplit(site.base).netloc)
        watch.attach(page)
        return Tab(page, context, watch)

    yield make
    for c in contexts:
        c.close()


def sign_in(page: Page, key: str, next_path: str = "/") -> None:
    page.goto(f"/login?next={next_path}")
    page.fill("input[name=key]", key)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"^[^?]*" + re.escape(next_path) + "$"))


def open_order(page: Page, o: Order) -> None:
    """The customer's way in: the token form."""
    page.goto(f"/o/{o.order_id}")
    page.fill("input[name=token]", o.token)
    page.click("form[action$='/open'] button[type=submit]")
    page.wait_for_url(re.compile(r"/o/" + re.escape(o.order_id) + "$"))


def cookie(context: BrowserContext, name: str) -> dict[str, Any] | None:
    found = [dict(c) for c in context.cookies() if c.get("name") == name]
    return found[0] if found else None


def artifacts() -> Path:
    """Where screenshots go: $PROMISELINE_ARTIFACTS, else test-artifacts/screenshots."""
    env = os.environ.get("PROMISELINE_ARTIFACTS")
    folder = Path(env) if env else ROOT / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
