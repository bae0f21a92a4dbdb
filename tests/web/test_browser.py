"""The planner's and the customer's pages in a real headless browser (Debian's chromium,
driven by Playwright) against a real `promiseline serve`: pages load cleanly and only
from the server, charts draw, sign-in and CSRF hold, a customer sees only their order,
forms validate, the orders table filters and pages through htmx, cancelling asks first,
and screenshots at desktop and phone sizes."""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Response

from promiseline.server import create_app
from tests.service.conftest import ADMIN, Clock, desk_maker, settings
from tests.web.conftest import Site, Tab, artifacts, cookie, open_order, sign_in

# One server and one browser for the module: its tests run on one xdist worker, in order.
pytestmark = pytest.mark.xdist_group("browser")
Open = Callable[..., Tab]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHARTS = ("chart-backlog", "chart-months", "chart-binding")
ROWS = "#orders-table tr:has(td)"

# Per chart: its canvas's size, the pixels drawn at all, and the saturated ones (a
# series' stroke or fill: the grid is grey and the text black).
INK_JS = """(ids) => ids.map((id) => {
  const c = document.querySelector('#' + id + ' canvas');
  if (!c) return {id: id, width: 0, height: 0, ink: 0, series: 0};
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0, series = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 0) ink++;
    const hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
    if (d[i + 3] > 128 && hi - lo > 80) series++;
  }
  return {id: id, width: c.width, height: c.height, ink: ink, series: series};
})"""


def _until(page: Page, js: str, arg: Any = None, seconds: float = 30.0) -> None:
    """Poll a JavaScript function (`(arg) => ...`) until it returns true. Playwright's own
    wait_for_function compiles its predicate with eval inside the page, which the pages'
    Content-Security-Policy refuses whenever it must poll (a flaky failure)."""
    end = time.monotonic() + seconds
    while not page.evaluate(js, arg):
        assert time.monotonic() < end, f"timed out waiting for {js}"
        page.wait_for_timeout(50)


def _charts_drawn(page: Page) -> list[dict[str, Any]]:
    drawn = "(ids) => ids.every((id) => document.querySelector('#' + id + ' canvas'))"
    _until(page, drawn, list(CHARTS))
    _until(page, f"(ids) => ({INK_JS})(ids).every((c) => c.series > 0)", list(CHARTS))
    result: list[dict[str, Any]] = page.evaluate(INK_JS, list(CHARTS))
    return result


def _rows(page: Page) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        ROWS, "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    return rows


def _matching(page: Page) -> int:
    text = page.inner_text("#orders-table p")
    m = re.match(r"([\d,]+) orders match", text)
    assert m, text
    return int(m.group(1).replace(",", ""))


# --- 1. every page loads cleanly, from the server alone ---------------------------------


def _load(page: Page, name: str, site: Site) -> None:
    """Open one page and wait until its scripts have done their work."""
    o = site.locked[0]
    if name == "login":
        page.goto("/login")
        assert page.title().startswith("Sign in")
    elif name == "overview":
        page.goto("/")
        _charts_drawn(page)
        _until(page, "() => document.getElementById('plan-age').textContent !== '…'")
    elif name == "orders":
        page.goto("/orders")
        assert len(_rows(page)) == 50
    elif name == "order":
        page.goto(f"/orders/{o.order_id}")
        assert page.inner_text("h1").startswith(f"Order {o.order_id}")
    elif name == "sequence":  # the tiny scenario has no stations: the page says so
        page.goto("/sequence")
        assert "No line of the scenario has stations" in page.inner_text("main")
    elif name == "scenario":
        page.goto("/scenario")
        assert "plants:" in page.input_value("textarea[name=text]")
    elif name == "whatif":  # a patch that changes nothing, run and polled until done
        page.goto("/whatif")
        page.fill("input[name=name]", "same")
        page.fill("textarea[name=text]", "{}")
        page.click("form[action='/whatif'] button[type=submit]")
        page.wait_for_selector("text=Done in", timeout=30_000)
        assert page.locator("table").count() == 2  # waits and deliveries, side by side
    elif name == "sizing":  # the tiny scenario has no levers: the job says so
        page.goto("/sizing")
        page.fill("input[name=target]", "p90_wait<=5d")
        page.click("form[action='/sizing'] button[type=submit]")
        page.wait_for_selector("text=no levers of kind", timeout=30_000)
    elif name == "customer-token":
        page.goto(f"/o/{o.order_id}")
        assert page.locator("input[name=token]").is_visible()
    else:  # a customer's page, opened with the token
        with page.expect_request(f"**/o/{o.order_id}/events"):  # the live updates connect
            open_order(page, o)
        lang = "zh-CN" if name == "customer-zh" else "en"
        assert page.get_attribute("html", "lang") == lang
        words = "您的订单" if lang == "zh-CN" else "Your order"
        assert page.inner_text("h1") == f"{words} {o.order_id}"
        page.wait_for_timeout(200)  # the event stream settles (a failure would log)


def test_pages_load_without_errors_or_other_hosts(site: Site, tab: Open) -> None:
    """Each page: no console error, no uncaught exception, no request to another host."""
    problems = {}
    planner = tab(planner=True)
    customer = tab(locale="en-US")
    for t, names in (
        (planner, ("overview", "orders", "order", "sequence", "scenario", "whatif", "sizing")),
        (customer, ("login", "customer-token", "customer-en")),
    ):
        for name in names:
            _load(t.page, name, site)
            errors, foreign = t.watch.take()
            if errors or foreign:
                problems[name] = {"errors": errors, "other hosts": foreign}
    # a browser asking for Chinese (Accept-Language) gets the Chinese page; its switch
    # goes back to English
    chinese = tab(locale="zh-CN")
    _load(chinese.page, "customer-zh", site)
    with chinese.page.expect_request(f"**/o/{site.locked[0].order_id}/events"):
        chinese.page.click("header form[action='/lang'] button")
    assert chinese.page.get_attribute("html", "lang") == "en"
    assert chinese.page.inner_text("h1").startswith("Your order")
    errors, foreign = chinese.watch.take()
    if errors or foreign:
        problems["customer-zh"] = {"errors": errors, "other hosts": foreign}
    assert not problems, problems


VIOLATIONS_JS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' +
                    (e.sourceFile || '') + ':' + e.lineNumber);
});
"""


def test_pages_work_under_the_content_security_policy(site: Site, tab: Open) -> None:
    """Every page is served with the strict policy (no inline script or style, nothing from
    elsewhere, no framing) and does all its work under it: the charts draw, htmx filters,
    the heatmap is shaded, live updates connect, and no violation is reported (the
    browser's own `securitypolicyviolation` events, and no console error)."""
    planner = tab(planner=True)
    customer = tab(locale="en-US")
    found = {}
    for t, names in (
        (planner, ("overview", "orders", "order", "sequence", "scenario", "whatif", "sizing")),
        (customer, ("login", "customer-token", "customer-en")),
    ):
        t.page.add_init_script(VIOLATIONS_JS)
        documents: list[Response] = []

        def keep(r: Response, documents: list[Response] = documents) -> None:
            documents.append(r)

        t.page.on("response", keep)
        for name in names:
            documents.clear()
            _load(t.page, name, site)
            if name == "orders":  # an htmx swap under the policy
                with t.page.expect_response(_is_htmx(f"{site.base}/orders?")):
                    t.page.select_option("form.filters select[name=status]", "reserved")
                _until(t.page, "() => document.querySelectorAll('#orders-table tr').length < 50")
            if name == "overview":
                shade = t.page.eval_on_selector(
                    ".heat td.cell:not(.hnone)", "c => getComputedStyle(c).backgroundColor"
                )
                assert shade.startswith("rgb("), shade  # a class's colour, not transparent
            pages = [r for r in documents if r.request.resource_type == "document"]
            assert pages, name
            for r in pages:
                policy = r.header_value("content-security-policy") or ""
                assert "script-src 'self';" in policy, (name, r.url, policy)
                assert "frame-ancestors 'none'" in policy
                assert r.header_value("x-frame-options") == "DENY"
                assert r.header_value("x-content-type-options") == "nosniff"
            violations = t.page.evaluate("window.__csp")
            errors, foreign = t.watch.take()
            if violations or errors or foreign:
                found[name] = {"violations": violations, "errors": errors, "other": foreign}
    assert not found, found


def test_chinese_page_explains_in_chinese(site: Site, tab: Open) -> None:
    t = tab(locale="zh-CN")
    open_order(t.page, site.locked[0])
    assert t.page.get_attribute("html", "lang") == "zh-CN"
    assert t.page.inner_text("h1").startswith("您的订单")
    why = t.page.locator(".card", has_text="为什么是这个日期").inner_text()
    english = re.findall(r"[A-Za-z]+(?: [A-Za-z0-9,()]+){2,}", why)
    assert not english, f"English in the Chinese page: {english}"


def test_chinese_page_draws_its_characters(site: Site, tab: Open) -> None:
    """With a Chinese font on the machine (make test installs one), the heading's
    characters are drawn as glyphs: without one every character is the same empty box.
    Each of the first four characters of 您的订单 is drawn alone in the page's own font
    and the four pictures must all differ. The page's screenshot goes with the others."""
    t = tab(locale="zh-CN", viewport=DESKTOP)
    open_order(t.page, site.locked[0])
    t.page.screenshot(path=str(artifacts() / "customer-zh.png"), full_page=True)
    pictures = []
    for ch in "您的订单":
        t.page.evaluate(
            """ch => { const s = document.createElement('span'); s.id = 'glyph';
                       s.textContent = ch; s.style.fontSize = '40px';
                       document.querySelector('h1').after(s); }""",
            ch,
        )
        pictures.append(t.page.locator("#glyph").screenshot())
        t.page.evaluate("document.getElementById('glyph').remove()")
    assert len(set(pictures)) == 4, "the Chinese characters are drawn as the same box"


# --- 2. charts ---------------------------------------------------------------------------


def test_overview_charts_draw(site: Site, tab: Open) -> None:
    """After sign-in the three chart containers each hold a uPlot canvas with the data's
    lines or bars on it (saturated pixels), not an empty frame, and the as-of line the
    page's heading names (each chart says the day it drew it at); the heatmap has cells."""
    t = tab(planner=True, viewport=DESKTOP)
    t.page.goto("/")
    charts = _charts_drawn(t.page)
    for c in charts:
        assert c["width"] > 0, c
        assert c["height"] > 0, c
        assert c["ink"] > 1000, c
        assert c["series"] > 100, c
    assert t.page.locator(".uplot").count() == 3
    as_of = re.search(r"plan as of (\d{4}-\d{2}-\d{2})", t.page.inner_text("h1"))
    assert as_of, t.page.inner_text("h1")
    drawn: list[str] = t.page.eval_on_selector_all(".chart", "cs => cs.map(c => c.dataset.asOf)")
    assert drawn == [as_of[1]] * 3
    cells = t.page.locator("table.heat td.cell")
    assert cells.count() > 0
    assert any(re.fullmatch(r"\d+%", s.strip()) for s in cells.all_inner_texts())
    t.watch.assert_clean("overview")


# --- 3. sign-in --------------------------------------------------------------------------


def test_sign_in_and_out(site: Site, tab: Open) -> None:
    """A wrong key: the error and no session. The right key: an HttpOnly, SameSite=Strict
    session the page's scripts cannot read. Signing out ends it."""
    t = tab()
    page = t.page
    page.goto("/")
    assert re.search(r"/login\?next=/$", page.url), page.url
    page.fill("input[name=key]", "pl_planner_not-a-key-at-all")
    page.click("form[action='/login'] button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "That key is unknown or revoked."
    assert cookie(t.context, "pl_session") is None
    assert page.url.endswith("/login")

    sign_in(page, site.key)
    session = cookie(t.context, "pl_session")
    assert session is not None
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/"
    csrf = cookie(t.context, "pl_csrf")
    assert csrf is not None
    assert (csrf["httpOnly"], csrf["sameSite"]) == (True, "Strict")
    assert "pl_session" not in page.evaluate("document.cookie")
    assert page.locator("#chart-backlog").count() == 1

    page.click("header form[action='/logout'] button")
    page.wait_for_url(re.compile(r"/login$"))
    assert cookie(t.context, "pl_session") is None
    page.goto("/")
    assert re.search(r"/login\?next=/$", page.url), page.url
    t.watch.assert_clean("sign-in", expected=401)  # the wrong key


def test_sign_out_ends_the_session_on_the_server(site: Site, tab: Open) -> None:
    """A session cookie copied before sign-out (another tab, a proxy, a stolen cookie)
    must no longer open the dashboard afterwards."""
    t = tab(planner=True)
    t.page.goto(f"/orders/{site.locked[0].order_id}")
    session = cookie(t.context, "pl_session")
    assert session is not None
    t.page.click("header form[action='/logout'] button")
    t.page.wait_for_url(re.compile(r"/login$"))
    replay = httpx.get(
        f"{site.base}/", cookies={"pl_session": str(session["value"])}, follow_redirects=False
    )
    assert replay.status_code == 303, f"the old session still opens /: {replay.status_code}"
    assert replay.headers["location"].startswith("/login")


# --- 4. CSRF -----------------------------------------------------------------------------


def test_posts_without_the_csrf_field_are_refused(site: Site, tab: Open) -> None:
    """With the browser's own cookies but no (or a wrong) csrf field, sign-in, cancel and
    the language switch are refused and change nothing."""
    t = tab()
    page = t.page
    page.goto("/login")
    assert cookie(t.context, "pl_csrf") is not None
    for form in ({"key": site.key}, {"key": site.key, "csrf": "x" * 43}):
        r = page.request.post("/login", form=form, max_redirects=0)
        assert r.status == 403, (r.status, r.text()[:300])
        assert cookie(t.context, "pl_session") is None

    o = site.take()
    open_order(page, o)
    assert cookie(t.context, "pl_order") is not None
    for form in ({}, {"csrf": ""}, {"csrf": "x" * 43}):
        r = page.request.post(f"/o/{o.order_id}/cancel", form=form, max_redirects=0)
        assert r.status == 403, (r.status, r.text()[:300])
    assert site.order_json(o)["status"] == "locked"
    page.reload()
    assert page.get_by_role("link", name="Cancel my order").is_visible()
    r = page.request.post("/lang", form={"lang": "zh-CN", "back": f"/o/{o.order_id}"})
    assert r.status == 403, (r.status, r.text()[:300])
    assert cookie(t.context, "lang") is None


# --- 5. a customer sees only their own order ---------------------------------------------


def test_customer_cannot_open_another_order(site: Site, tab: Open) -> None:
    """Order A open does not open B; B's token does not open A; a one-time link opens
    its order once (on the customer's click, not on a mere GET), and leaves no code in
    the address bar."""
    a, b = site.take(), site.take()
    t = tab()
    page = t.page
    open_order(page, a)
    assert page.inner_text("h1") == f"Your order {a.order_id}"
    opened = cookie(t.context, "pl_order")
    assert opened is not None
    assert opened["path"] == f"/o/{a.order_id}"
    assert (opened["httpOnly"], opened["sameSite"]) == (True, "Strict")

    page.goto(f"/o/{b.order_id}")
    assert page.locator("input[name=token]").is_visible()
    assert "Status" not in page.inner_text("main")
    # A's cookie, sent to B's address by hand, does not open B either (signed per order)
    r = httpx.get(f"{site.base}/o/{b.order_id}", cookies={"pl_order": str(opened["value"])})
    assert 'name="token"' in r.text
    assert "Status:" not in r.text

    t2 = tab()
    t2.page.goto(f"/o/{a.order_id}")
    t2.page.fill("input[name=token]", b.token)
    t2.page.click("form[action$='/open'] button[type=submit]")
    assert t2.page.get_by_role("alert").inner_text() == "That code does not open this order."
    assert cookie(t2.context, "pl_order") is None

    r = site.http.post(f"/v1/orders/{b.order_id}/page-link", headers={"X-Order-Token": b.token})
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith(f"/o/{b.order_id}?code=")
    assert httpx.get(site.base + url).status_code == 200  # a link preview fetches it first
    t3 = tab()
    t3.page.goto(url)  # the link asks for a click: a GET alone does not use it up
    assert cookie(t3.context, "pl_order") is None
    t3.page.click(f"form[action='/o/{b.order_id}/link'] button[type=submit]")
    t3.page.wait_for_url(re.compile(re.escape(b.order_id) + "$"))
    assert t3.page.url == f"{site.base}/o/{b.order_id}"  # the code left the address bar
    assert t3.page.evaluate("location.search") == ""
    assert t3.page.inner_text("h1") == f"Your order {b.order_id}"
    assert cookie(t3.context, "pl_order") is not None
    t2.page.goto(url)  # a second use, in another browser
    t2.page.click(f"form[action='/o/{b.order_id}/link'] button[type=submit]")
    assert t2.page.locator("input[name=token]").is_visible()
    assert t2.page.get_by_role("alert").inner_text() == "That code does not open this order."
    assert cookie(t2.context, "pl_order") is None
    for x in (t, t2, t3):
        x.watch.assert_clean("customer", expected=401)  # the wrong token, the used link


# --- 6. form validation ------------------------------------------------------------------


def test_forms_show_validation_messages(site: Site, tab: Open) -> None:
    """Empty required fields: the browser's own message and nothing sent; a wrong token:
    the page's error."""
    t = tab()
    page = t.page
    page.goto("/login")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("form[action='/login'] button[type=submit]")
    message = page.eval_on_selector("input[name=key]", "e => e.validationMessage")
    assert message, "no validation message on the empty key"
    assert page.eval_on_selector("input[name=key]", "e => e.validity.valueMissing") is True
    assert posts == []
    assert page.url.endswith("/login")

    o = site.locked[0]
    page.goto(f"/o/{o.order_id}")
    page.click("form[action$='/open'] button[type=submit]")
    assert page.eval_on_selector("input[name=token]", "e => e.validationMessage")
    assert posts == []
    page.fill("input[name=token]", "0" * 32)
    with page.expect_response(f"**/o/{o.order_id}/open") as answer:
        page.click("form[action$='/open'] button[type=submit]")
    assert answer.value.status == 401
    assert page.get_by_role("alert").inner_text() == "That code does not open this order."
    assert page.locator("input[name=token]").is_visible()
    t.watch.assert_clean("forms", expected=401)  # the wrong token


# --- 7. orders: htmx filters and paging --------------------------------------------------


def _is_htmx(url: str) -> Callable[[Response], bool]:
    """An answer to htmx (its HX-Request header) for an address starting with `url`."""

    def check(r: Response) -> bool:
        return r.url.startswith(url) and r.request.headers.get("hx-request") == "true"

    return check


def test_orders_filter_and_page_through_htmx(site: Site, tab: Open) -> None:
    """Choosing a status swaps the table in place (no page load, the address follows);
    the Next link loads the next page the same way."""
    t = tab(planner=True)
    page = t.page
    page.goto("/orders")
    total = site.count()
    assert total > 50
    assert _matching(page) == total
    first = _rows(page)
    assert len(first) == 50
    page.evaluate("window.__samePage = true")
    loads = len(t.watch.documents)

    with page.expect_response(_is_htmx(f"{site.base}/orders?")) as answer:
        page.click("text=Next")
    assert answer.value.status == 200
    _until(
        page,
        "(first) => document.querySelector('#orders-table td a').textContent !== first",
        first[0][0],
    )
    second = _rows(page)
    assert len(second) == min(50, total - 50)

    def place(r: list[str]) -> tuple[int, str]:  # queue first, then the rest by id
        return (int(r[5].replace(",", "")) if r[5] else 2**31, r[0])

    assert min(map(place, second)) > max(map(place, first))  # in queue order, after the first
    assert [place(r) for r in first] == sorted(map(place, first))
    assert "after=" in page.url
    assert _matching(page) == total

    reserved = site.count(status="reserved")
    assert 0 < reserved < total
    with page.expect_response(_is_htmx(f"{site.base}/orders?")) as answer:
        page.select_option("form.filters select[name=status]", "reserved")
    assert answer.value.status == 200
    _until(page, f"() => document.querySelector('#orders-table p b').textContent === '{reserved}'")
    rows = _rows(page)
    assert len(rows) == reserved
    assert {r[4] for r in rows} == {"reserved"}
    assert "status=reserved" in page.url
    assert "after=" not in page.url

    assert page.evaluate("window.__samePage") is True  # never a full reload
    assert len(t.watch.documents) == loads
    page.reload()  # the address the page pushed gives the same table
    assert page.eval_on_selector("select[name=status]", "e => e.value") == "reserved"
    assert len(_rows(page)) == reserved
    t.watch.assert_clean("orders")


def test_next_link_names_what_follows(site: Site, tab: Open) -> None:
    t = tab(planner=True)
    t.page.goto("/orders")
    total = site.count()
    assert 50 < total < 100
    link = t.page.inner_text("#orders-table a:has-text('Next')")
    assert link == "Next page →"  # it does not claim a count it does not know


# --- 8. cancel, after a confirmation -----------------------------------------------------


def test_cancel_asks_and_states_the_refund_rule(site: Site, tab: Open) -> None:
    """The cancel link asks first, stating whether the deposit comes back; keeping it
    changes nothing; confirming cancels the order (the API says so)."""
    o = site.locked[-1]  # the last in the queue: no other order's window moves
    t = tab()
    page = t.page
    open_order(page, o)
    page.click("text=Cancel my order")
    page.wait_for_url(re.compile(r"\?confirm=cancel$"))
    rule = page.get_by_role("alert").inner_text()
    assert rule == "You get your deposit back if you cancel now."  # locked minutes ago
    page.click("text=No, keep it")
    page.wait_for_url(re.compile(f"/o/{o.order_id}$"))
    assert site.order_json(o)["status"] == "locked"

    page.click("text=Cancel my order")
    page.wait_for_url(re.compile(r"\?confirm=cancel$"))
    page.click("button:has-text('Yes, cancel it')")
    page.wait_for_url(re.compile(f"/o/{o.order_id}$"))
    assert "This order is cancelled." in page.inner_text("main")
    assert site.order_json(o)["status"] == "cancelled"
    assert page.locator("text=Cancel my order").count() == 0
    t.watch.assert_clean("cancel")
    site.settle()


# --- 9. screenshots ----------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots(size: str, viewport: dict[str, int], site: Site, tab: Open) -> None:
    """The overview and a customer's page as a planner's screen and a phone show them;
    full-page PNGs exactly as wide as the screen (nothing runs off to the side)."""
    folder = artifacts()
    t = tab(planner=True, viewport=viewport)
    t.page.goto("/")
    _charts_drawn(t.page)
    overview = folder / f"overview-{size}.png"
    t.page.screenshot(path=overview, full_page=True)
    customer = folder / f"customer-{size}.png"
    open_order(t.page, site.locked[0])
    t.page.screenshot(path=customer, full_page=True)
    for shot in (overview, customer):
        width, height = _png_size(shot)
        assert width == viewport["width"], (shot, width)
        assert height >= viewport["height"], (shot, height)
        assert shot.stat().st_size > 10_000
    t.watch.assert_clean(f"screenshots {size}")


# --- the overview when nothing is planned ------------------------------------------------


def test_overview_without_deliveries_prints_no_none(tmp_path: Path) -> None:
    app = create_app(desk_maker(settings(f"sqlite:///{tmp_path}/empty.db"), Clock()))
    with TestClient(app) as c:
        key = c.post("/v1/keys", json={"role": "planner"}, headers=ADMIN).json()["key"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert csrf
        r = c.post("/login", data={"key": key, "csrf": csrf.group(1)})
        assert r.status_code == 200
        assert r.url.path == "/"
        assert ">None<" not in r.text
