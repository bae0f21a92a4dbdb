"""The pages attacked without a browser (TestClient): sign-in and sessions, CSRF on every
form, one customer's cookie and links against another's order, cookie flags, HTML in
every echoed value, bad input, the downloads against the API, and pages that need a
session."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import time
import zipfile
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from promiseline.web.session import CSRF, LINK_S, ORDER, ORDER_S, SESSION, SESSION_S, Signer
from tests.service import conftest as service
from tests.service.conftest import ADMIN, Clock, order
from tests.store import conftest as store_fixtures

# the service tests' fixtures (a client on the tiny scenario): checks of the pages' own logic
# run on SQLite only; what reads or writes the store (revoked keys, one-time links, listings,
# NUL bytes) is marked to run on both back-ends
db_url = store_fixtures.db_url
clock = service.clock
client = service.client
planner_key = service.planner_key

Response = Any  # what the TestClient answers (httpx's, or httpx2's when installed)
YAML = {"Content-Type": "application/yaml"}
HX = {"HX-Request": "true"}
PAYLOAD = '"><img src=x onerror=alert(1)>'  # no "/": it fits in one path segment
RAW = "<img src=x"  # what must never reach a page unescaped
TABLES = (
    "backlog",
    "binding",
    "months",
    "utilization",
    "waits_by_market",
    "waits_by_model",
    "waits_by_variant",
)


# --- helpers ---


def csrf(c: TestClient) -> str:
    """This browser's CSRF token (a page sets it on the first visit)."""
    if CSRF not in c.cookies:
        assert c.get("/login").status_code == 200
    return str(c.cookies[CSRF])


def sign_in(c: TestClient, key: str, next_path: str = "/") -> str:
    """Sign in through the form; the session cookie's value."""
    r = c.post(
        "/login", data={"key": key, "csrf": csrf(c), "next": next_path}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    assert SESSION in set_cookies(r), r.headers
    return str(c.cookies[SESSION])


def jar(**cookies: str) -> dict[str, str]:
    """A Cookie header sent as is (the client's own jar is then not sent)."""
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()) or "none=0"}


def follow_link(c: TestClient, order_id: str, code: str) -> Response:
    """A one-time link as a customer uses it: its page (a button, so mail scanners that
    fetch links use up nothing), then the click (POST with the code and the CSRF token)."""
    token = csrf(c)
    shown = c.get(f"/o/{order_id}", params={"code": code}, headers=jar(pl_csrf=token))
    assert shown.status_code == 200
    assert ORDER not in set_cookies(shown)  # the GET uses nothing up
    return c.post(
        f"/o/{order_id}/link",
        data={"code": code, "csrf": token},
        headers=jar(pl_csrf=token),
        follow_redirects=False,
    )


def signer(c: TestClient) -> Signer:
    desk: Any = c.app.app.state.desk  # type: ignore[attr-defined]  # the Guard wraps FastAPI
    return Signer(desk.page_secret)


def set_cookies(r: Response) -> dict[str, dict[str, str]]:
    """The cookies a response sets: name -> {"value": ..., attribute (lower case): ...}."""
    out: dict[str, dict[str, str]] = {}
    for line in r.headers.get_list("set-cookie"):
        first, *attrs = (p.strip() for p in line.split(";"))
        name, _, value = first.partition("=")
        fields = {"value": value}
        for a in attrs:
            k, _, v = a.partition("=")
            fields[k.lower()] = v
        out[name] = fields
    return out


def assert_strict(cookie: dict[str, str], path: str, max_age: int) -> None:
    assert "httponly" in cookie, cookie
    assert cookie.get("samesite", "").lower() == "strict", cookie
    assert cookie.get("path") == path, cookie
    assert cookie.get("max-age") == str(max_age), cookie
    assert "domain" not in cookie, cookie  # host-only


def customer(c: TestClient, key: str, lock: bool = True, **body: object) -> tuple[str, str]:
    """A new order: (its id, its token)."""
    o = order(c, key, lock=lock, **body)
    return str(o["order_id"]), str(o["token"])


def status_of(c: TestClient, oid: str, token: str) -> str:
    r = c.get(f"/v1/orders/{oid}", headers={"X-Order-Token": token})
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def variant_of(c: TestClient, oid: str, token: str) -> str:
    r = c.get(f"/v1/orders/{oid}", headers={"X-Order-Token": token})
    assert r.status_code == 200, r.text
    return str(r.json()["variant"])


def open_order(c: TestClient, oid: str, token: str) -> str:
    """Open a customer's page with the token; the order cookie's value."""
    r = c.post(f"/o/{oid}/open", data={"token": token, "csrf": csrf(c)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return set_cookies(r)[ORDER]["value"]


def link_code(c: TestClient, oid: str, token: str) -> str:
    r = c.post(f"/v1/orders/{oid}/page-link", headers={"X-Order-Token": token})
    assert r.status_code == 200, r.text
    return str(r.json()["url"]).split("code=", 1)[1]


def is_token_form(r: Response) -> bool:
    """The customer page asks for the token (it shows nothing of the order)."""
    return 'name="token"' in r.text and "/cancel" not in r.text and "?confirm=" not in r.text


def to_login(r: Response) -> bool:
    return r.status_code == 303 and str(r.headers["location"]).startswith("/login")


def matches(r: Response) -> int:
    """The orders page's "N orders match"."""
    found = re.search(r"<b>([\d,]+)</b> orders match", r.text)
    assert found, r.text[:500]
    return int(found.group(1).replace(",", ""))


def csv_rows(r: Response) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.content.decode())))


NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def xlsx_rows(r: Response) -> list[list[str | float | None]]:
    """The first sheet's cells, row by row (no Excel engine needed: the file is a zip of
    XML; strings come from the shared table, numbers as floats, a missing cell as None)."""
    assert r.status_code == 200, r.text[:300]
    assert r.content[:2] == b"PK", r.content[:20]
    assert r.headers["content-type"].endswith("spreadsheetml.sheet")
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in z.namelist():
            root = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{NS}t")) for si in root]
        sheet = ElementTree.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows: list[list[str | float | None]] = []
    for row in sheet.iter(f"{NS}row"):
        cells: dict[int, str | float] = {}
        for cell in row.iter(f"{NS}c"):
            letters = re.match(r"[A-Z]+", cell.get("r", ""))
            assert letters, cell.attrib
            col = 0
            for ch in letters.group(0):
                col = col * 26 + ord(ch) - 64
            v = cell.find(f"{NS}v")
            if v is None or v.text is None:
                continue
            cells[col - 1] = shared[int(v.text)] if cell.get("t") == "s" else float(v.text)
        rows.append([cells.get(i) for i in range(max(cells, default=-1) + 1)])
    return rows


def same(text: str, value: object) -> bool:
    """Does a CSV cell say what a JSON value says?"""
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text.lower() == str(value).lower()
    if isinstance(value, int | float):
        return text != "" and abs(float(text) - float(value)) < 1e-9
    if text != "" and re.match(r"\d{4}-\d\d-\d\dT", str(value)):
        return dt.datetime.fromisoformat(text) == dt.datetime.fromisoformat(str(value))
    return text == str(value)


EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def same_cell(text: str, cell: str | float | None) -> bool:
    """Does an xlsx cell say what the CSV cell says? (dates are day numbers there)"""
    if text == "":
        return cell in (None, "")
    if isinstance(cell, str):
        return cell == text
    if cell is None:
        return False
    if re.fullmatch(r"\d{4}-\d\d-\d\d(T.*)?", text):
        days = (dt.datetime.fromisoformat(text) - EXCEL_EPOCH).total_seconds() / 86400
        return abs(days - cell) < 1e-6
    return abs(float(text) - cell) < 1e-9


def assert_xlsx_is_csv(x: list[list[str | float | None]], rows: list[dict[str, str]]) -> None:
    header = list(rows[0]) if rows else []
    assert [str(h) for h in x[0]] == header
    assert len(x) == len(rows) + 1
    for line, row in zip(x[1:], rows, strict=True):
        padded = line + [None] * (len(header) - len(line))
        for cell, name in zip(padded, header, strict=True):
            assert same_cell(row[name], cell), (name, row[name], cell)


def api_orders(c: TestClient, key: str, **where: str) -> list[dict[str, Any]]:
    """Every order the planner API lists for this filter, page by page."""
    out: list[dict[str, Any]] = []
    params: dict[str, str | int] = {**where, "limit": 7}
    while True:
        r = c.get("/v1/orders", params=params, headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["data"]
        if body["next_after"] is None:
            return out
        params["after"] = body["next_after"]


def book(c: TestClient, key: str, locked: int = 8, reserved: int = 2) -> list[tuple[str, str]]:
    """Locked orders of both variants, some reserved ones, one cancelled; then a plan."""
    made = [
        customer(c, f"l{i}", lock=True, variant="M" if i % 3 == 0 else "S") for i in range(locked)
    ]
    made += [customer(c, f"r{i}", lock=False) for i in range(reserved)]
    oid, token = customer(c, "gone", lock=True)
    r = c.post(f"/v1/orders/{oid}/cancel", headers={"X-Order-Token": token})
    assert r.status_code == 200, r.text
    r = c.post("/v1/plan", headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    return made


# --- sign-in and sessions ---


def test_a_wrong_key_signs_nobody_in(client: TestClient) -> None:
    """A wrong, empty, huge or API-shaped key: the form again (401), no session cookie,
    the key not echoed; the planner pages stay shut."""
    token = csrf(client)
    for key in ("wrong-key-0123456789", "pl_planner_" + "x" * 43, " ", PAYLOAD):
        r = client.post("/login", data={"key": key, "csrf": token}, follow_redirects=False)
        assert r.status_code == 401, (key, r.text[:200])
        assert SESSION not in set_cookies(r)
        assert "unknown or revoked" in r.text
        if key.strip():
            assert key not in r.text
            assert html.escape(key) not in r.text
    r = client.post("/login", data={"key": "k" * 257, "csrf": token}, follow_redirects=False)
    assert r.status_code == 422
    assert SESSION not in set_cookies(r)
    r = client.get("/", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/")


@pytest.mark.both_stores
def test_a_revoked_key_ends_its_session_at_once(client: TestClient, planner_key: str) -> None:
    """Sign in, then an admin revokes the key: the very next request of that session is
    sent to sign in (pages, partials, data, downloads), and the key signs in no more."""
    sign_in(client, planner_key)
    assert client.get("/").status_code == 200
    assert client.get("/download/backlog.csv").status_code == 200
    keys = client.get("/v1/keys", headers=ADMIN).json()
    (key_id,) = [k["key_id"] for k in keys if k["role"] == "planner" and not k["revoked_at"]]
    assert client.delete(f"/v1/keys/{key_id}", headers=ADMIN).status_code == 204
    for path in ("/", "/orders", "/overview.json", "/download/backlog.csv"):
        assert to_login(client.get(path, follow_redirects=False)), path
        r = client.get(path, headers=HX, follow_redirects=False)
        assert (r.status_code, r.headers.get("hx-redirect")) == (401, "/login"), path
    r = client.post(
        "/login", data={"key": planner_key, "csrf": csrf(client)}, follow_redirects=False
    )
    assert r.status_code == 401
    assert SESSION not in set_cookies(r)


def test_forged_tampered_and_expired_sessions_are_refused(
    client: TestClient, planner_key: str
) -> None:
    """Only the value the server signed, unchanged and unexpired, is a session: one
    character changed, a later expiry, a customer's order cookie, a value signed for
    another purpose or with extra fields, a key that does not exist, an expired value,
    junk and oversized values all go to sign-in."""
    good = sign_in(client, planner_key)
    oid, token = customer(client, "o")
    order_cookie = open_order(client, oid, token)
    s = signer(client)
    key_b64, expiry, mac = good.split(".")
    key_id = s.check(SESSION, good)
    assert key_id is not None
    flip = {"0": "1", "1": "0"}

    def flipped(text: str, i: int) -> str:
        return text[:i] + flip.get(text[i], "0") + text[i + 1 :]

    forged = {
        "mac, one char": f"{key_b64}.{expiry}.{flipped(mac, 5)}",
        "mac, last char": f"{key_b64}.{expiry}.{flipped(mac, len(mac) - 1)}",
        "key, one char": f"{flipped(key_b64, 3)}.{expiry}.{mac}",
        "later expiry": f"{key_b64}.{int(expiry) + 365 * 86400}.{mac}",
        "no mac": f"{key_b64}.{expiry}",
        "mac only": mac,
        "extra dot": good + ".",
        "upper-case mac": f"{key_b64}.{expiry}.{mac.upper()}",
        "order cookie": order_cookie,
        "order cookie's fields as a session": f"{order_cookie.rsplit('.', 1)[0]}.{mac}",
        "signed as an order": s.sign(ORDER, key_id[0], seconds=SESSION_S),
        "two fields": s.sign(SESSION, key_id[0], "admin", seconds=SESSION_S),
        "unknown key": s.sign(SESSION, "key_000000000000", seconds=SESSION_S),
        "expired": s.sign(SESSION, key_id[0], seconds=SESSION_S, now=time.time() - SESSION_S - 5),
        "other secret": Signer(b"guess").sign(SESSION, key_id[0], seconds=SESSION_S),
        "oversized": good + "0" * 600,
        "junk": "%FF%00..",
        "empty": '""',
    }
    assert client.get("/", headers=jar(pl_session=good)).status_code == 200
    for what, value in forged.items():
        r = client.get("/orders", headers=jar(pl_session=value), follow_redirects=False)
        assert to_login(r), (what, r.status_code)


def test_signing_out_ends_the_session(client: TestClient, planner_key: str) -> None:
    """Sign-out needs the form's token, then clears the cookie (Max-Age=0, Path=/)."""
    sign_in(client, planner_key)
    r = client.post("/logout", data={"csrf": "wrong"}, follow_redirects=False)
    assert r.status_code == 403
    assert SESSION not in set_cookies(r)
    assert client.get("/").status_code == 200
    r = client.post("/logout", data={"csrf": csrf(client)}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    gone = set_cookies(r)[SESSION]
    assert (gone["value"], gone["max-age"], gone["path"]) == ('""', "0", "/")
    assert to_login(client.get("/", follow_redirects=False))


def test_a_session_copied_before_sign_out_is_dead_after(
    client: TestClient, planner_key: str
) -> None:
    good = sign_in(client, planner_key)
    r = client.post("/logout", data={"csrf": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    r = client.get("/orders", headers=jar(pl_session=good), follow_redirects=False)
    assert to_login(r), r.status_code


def on_this_host(target: str) -> bool:
    """Does a browser resolve this redirect target on this host? (it drops tabs and
    newlines and takes "\\" for "/")"""
    seen = re.sub(r"[\t\r\n]", "", target).replace("\\", "/")
    return urlsplit(urljoin("http://testserver/login", seen)).netloc == "testserver"


def test_sign_in_never_redirects_off_site(client: TestClient, planner_key: str) -> None:
    """`next` leads to a path on this server only: scheme-relative, absolute, backslash,
    tab-split and javascript targets land on "/" (or stay on this host, as a browser
    resolves them); a path with a query is kept."""
    token = csrf(client)
    hostile = (
        "//evil.example",
        "///evil.example",
        "https://evil.example",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "/a\r\nSet-Cookie: x=1",
    )
    for target in hostile:
        r = client.get("/login", params={"next": target})
        hidden = re.search(r'name="next" value="([^"]*)"', r.text)
        assert hidden, target
        kept = html.unescape(hidden.group(1))  # posted back by the form, checked again
        assert kept.startswith("/"), target
        assert not kept.startswith("//"), target
        assert "\\" not in kept, target
        r = client.post(
            "/login",
            data={"key": planner_key, "csrf": token, "next": target},
            follow_redirects=False,
        )
        assert r.status_code == 303, target
        location = r.headers["location"]
        assert not re.search(r"[\r\n]", location), target
        assert set(set_cookies(r)) == {SESSION}, target
        assert on_this_host(location), (target, location)
    r = client.post(
        "/login",
        data={"key": planner_key, "csrf": token, "next": "/orders?status=locked"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/orders?status=locked"
    client.cookies.delete(SESSION)
    r = client.get("/orders/PL-1", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/orders/PL-1"


# --- CSRF ---


def test_sign_in_needs_the_csrf_token(client: TestClient, planner_key: str) -> None:
    """No token, a wrong one, one without its cookie, or the attacker's own: 403 and no
    session (a login CSRF cannot plant the attacker's session either)."""
    mine = csrf(client)
    attacker = "A" * 43
    cases = {
        "no field, no cookie": ({}, jar()),
        "no field": ({}, jar(pl_csrf=mine)),
        "wrong field": ({"csrf": attacker}, jar(pl_csrf=mine)),
        "field without cookie": ({"csrf": mine}, jar()),
        "empty both": ({"csrf": ""}, jar(pl_csrf="")),
        "prefix": ({"csrf": mine[:20]}, jar(pl_csrf=mine)),
    }
    for what, (extra, headers) in cases.items():
        r = client.post(
            "/login",
            data={"key": planner_key, **extra},
            headers=headers,
            follow_redirects=False,
        )
        assert r.status_code == 403, (what, r.status_code)
        assert SESSION not in set_cookies(r), what
    assert to_login(client.get("/", follow_redirects=False))


def test_planner_forms_need_the_csrf_token(client: TestClient, planner_key: str) -> None:
    """Replacing the scenario, starting a what-if or a sizing, signing out: with no token
    or a wrong one, 403 and nothing done (the scenario stays, no job starts)."""
    sign_in(client, planner_key)
    text = client.get("/v1/scenario", headers=ADMIN).text
    changed = text.replace("jph: 1\n", "jph: 2\n")
    assert changed != text
    forms = {
        "/scenario": {"text": changed},
        "/whatif": {"name": "csrf", "text": "plants: []"},
        "/sizing": {"target": "p90_wait<=30d", "lever": "shift"},
        "/logout": {},
    }
    for path, data in forms.items():
        for bad in ({}, {"csrf": "x" * 43}, {"csrf": ""}):
            r = client.post(path, data={**data, **bad}, follow_redirects=False)
            assert r.status_code == 403, (path, bad, r.status_code)
            assert "location" not in r.headers, path
    assert client.get("/v1/scenario", headers=ADMIN).text == text
    assert client.get("/").status_code == 200  # still signed in
    r = client.post(
        "/scenario", data={"text": changed, "csrf": csrf(client)}, follow_redirects=False
    )
    assert (r.status_code, r.headers["location"]) == (303, "/scenario?saved=1")
    assert client.get("/v1/scenario", headers=ADMIN).text == changed


@pytest.mark.both_stores
def test_customer_forms_need_the_csrf_token(client: TestClient) -> None:
    """Open, lock, change and cancel with no token or a wrong one: nothing happens (no
    cookie, the order as it was); with this browser's token each works."""
    held, held_token = customer(client, "held", lock=False)
    locked, locked_token = customer(client, "locked", lock=True)
    mine = csrf(client)
    for bad in ({}, {"csrf": "x" * 43}, {"csrf": mine + "x"}):
        r = client.post(
            f"/o/{held}/open",
            data={"token": held_token, **bad},
            follow_redirects=False,
        )
        assert r.status_code == 401, bad
        assert ORDER not in set_cookies(r), bad
    open_order(client, held, held_token)
    locked_cookie = open_order(client, locked, locked_token)
    for bad in ({}, {"csrf": "x" * 43}, {"csrf": ""}):
        r = client.post(f"/o/{held}/lock", data=bad, follow_redirects=False)
        assert r.status_code == 403, bad
        r = client.post(f"/o/{held}/change", data={"variant": "M", **bad}, follow_redirects=False)
        assert r.status_code == 403, bad
        r = client.post(f"/o/{locked}/cancel", data=bad, follow_redirects=False)
        assert r.status_code == 403, bad
        # the right field without the CSRF cookie (a cross-site form has no way to it)
        r = client.post(
            f"/o/{locked}/cancel",
            data={"csrf": mine},
            headers=jar(pl_order=locked_cookie),
            follow_redirects=False,
        )
        assert r.status_code == 403
    assert status_of(client, held, held_token) == "reserved"
    assert variant_of(client, held, held_token) == "S"
    assert status_of(client, locked, locked_token) == "locked"
    r = client.post(
        f"/o/{held}/change", data={"variant": "M", "csrf": mine}, follow_redirects=False
    )
    assert r.status_code == 303
    assert variant_of(client, held, held_token) == "M"
    r = client.post(f"/o/{held}/lock", data={"csrf": mine}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/o/{held}")
    assert status_of(client, held, held_token) == "locked"
    r = client.post(f"/o/{locked}/cancel", data={"csrf": mine}, follow_redirects=False)
    assert r.status_code == 303
    assert status_of(client, locked, locked_token) == "cancelled"
    r = client.post(f"/o/{held}/delete", data={"csrf": mine}, follow_redirects=False)
    assert r.status_code == 403


def test_the_language_switch_needs_the_csrf_token(client: TestClient) -> None:
    r = client.post(
        "/lang",
        data={"lang": "zh-CN", "back": "/o/PL-1"},
        headers=jar(),
        follow_redirects=False,
    )
    assert "lang" not in set_cookies(r)
    assert r.status_code == 403


def test_the_language_switch_goes_back_to_a_customer_page_only(client: TestClient) -> None:
    """`back` leads to an /o/ path on this server; anything else to "/"."""
    for back, where in (
        ("/o/PL-1", "/o/PL-1"),
        ("//evil.example", "/"),
        ("https://evil.example/o/", "/"),
        ("/o//evil.example", "/"),
        ("/orders", "/"),
        ("/o/\\evil.example", None),
        ("/o/\t/evil.example", None),
        ("/o/../\\evil.example", None),
    ):
        r = client.post(
            "/lang", data={"lang": "en", "back": back, "csrf": csrf(client)}, follow_redirects=False
        )
        assert r.status_code == 303, back
        location = r.headers["location"]
        assert on_this_host(location), (back, location)
        if where is not None:
            assert location == where, back


# --- customer isolation ---


def test_one_orders_cookie_opens_no_other(client: TestClient) -> None:
    """Order A's cookie (or token) opens A only: not B, not an id A is a prefix of, not its
    events or its forms; the cookie's path names A and the browser keeps it to A."""
    a, a_token = customer(client, "a")
    b, b_token = customer(client, "b")
    a_cookie = open_order(client, a, a_token)
    page_a = client.get(f"/o/{a}")
    assert page_a.status_code == 200
    assert not is_token_form(page_a)
    assert f"/o/{a}?confirm=cancel" in page_a.text
    s = signer(client)
    prefix = s.sign(ORDER, a[:-1], seconds=ORDER_S)  # signed for an id that A extends
    for target, value in ((b, a_cookie), (a + "0", a_cookie), (a, prefix), (b, prefix)):
        r = client.get(f"/o/{target}", headers=jar(pl_order=value))
        assert (r.status_code, is_token_form(r)) == (200, True), target
        assert client.get(f"/o/{target}/events", headers=jar(pl_order=value)).status_code == 401
    for value in (
        s.sign(ORDER, a, seconds=ORDER_S, now=time.time() - ORDER_S - 5),  # expired
        s.sign(SESSION, a, seconds=ORDER_S),  # signed as a session
        s.sign(ORDER, a, b, seconds=ORDER_S),  # two ids
        a_cookie[:-1] + ("0" if a_cookie[-1] != "0" else "1"),
        a,
    ):
        assert is_token_form(client.get(f"/o/{a}", headers=jar(pl_order=value)))
    # A's cookie and a good CSRF token do not act on B
    mine = csrf(client)
    r = client.post(
        f"/o/{b}/cancel",
        data={"csrf": mine},
        headers=jar(pl_order=a_cookie, pl_csrf=mine),
        follow_redirects=False,
    )
    assert r.status_code != 303
    assert status_of(client, b, b_token) == "locked"
    # A's token does not open B
    r = client.post(f"/o/{b}/open", data={"token": a_token, "csrf": mine}, follow_redirects=False)
    assert r.status_code == 401
    assert ORDER not in set_cookies(r)
    # the browser's side: the cookie is sent to A's pages only (RFC 6265 path match)
    r = client.get(f"/o/{a}0")
    assert ORDER not in (r.request.headers.get("cookie") or "")
    assert ORDER in (client.get(f"/o/{a}/nothing").request.headers.get("cookie") or "")


@pytest.mark.both_stores
def test_a_one_time_link_opens_its_order_once_for_15_minutes(
    client: TestClient, clock: Clock
) -> None:
    """A link opens its order once (then 401); 14 minutes later it still does, 16 minutes
    later not; A's link does not open B; junk and huge codes are a clean 401."""
    a, a_token = customer(client, "a")
    b, _ = customer(client, "b")
    code = link_code(client, a, a_token)
    r = follow_link(client, a, code)
    assert (r.status_code, r.headers["location"]) == (303, f"/o/{a}")
    assert_strict(set_cookies(r)[ORDER], f"/o/{a}", ORDER_S)
    r = follow_link(client, a, code)
    assert r.status_code == 401
    assert ORDER not in set_cookies(r)
    assert LINK_S == 15 * 60
    late, in_time = link_code(client, a, a_token), link_code(client, a, a_token)
    clock.now += dt.timedelta(minutes=14)
    r = follow_link(client, a, in_time)
    assert r.status_code == 303
    clock.now += dt.timedelta(minutes=2)
    r = follow_link(client, a, late)
    assert r.status_code == 401
    assert ORDER not in set_cookies(r)
    other = link_code(client, a, a_token)
    r = follow_link(client, b, other)
    assert r.status_code == 401
    assert ORDER not in set_cookies(r)
    for junk in ("", "x", "A" * 32, "é'\"<>", "%FF", "A" * 20_000, a_token, code + "x"):
        r = follow_link(client, a, junk)
        assert r.status_code == 401, junk[:20]
        assert r.headers["content-type"].startswith("text/html")
        assert ORDER not in set_cookies(r)


# --- cookie flags ---


def test_every_cookie_is_httponly_strict_and_scoped(client: TestClient, planner_key: str) -> None:
    """CSRF, session, order (by token and by link) and language cookies: HttpOnly,
    SameSite=Strict, host-only, the narrowest path, a Max-Age; Secure over HTTPS."""
    r = client.get("/login", headers=jar())
    assert_strict(set_cookies(r)[CSRF], "/", SESSION_S * 3)
    assert "secure" not in set_cookies(r)[CSRF]  # plain HTTP (the tests)
    token = csrf(client)
    r = client.post("/login", data={"key": planner_key, "csrf": token}, follow_redirects=False)
    assert_strict(set_cookies(r)[SESSION], "/", SESSION_S)
    oid, otoken = customer(client, "o")
    r = client.post(f"/o/{oid}/open", data={"token": otoken, "csrf": token}, follow_redirects=False)
    assert_strict(set_cookies(r)[ORDER], f"/o/{oid}", ORDER_S)
    code = link_code(client, oid, otoken)
    r = follow_link(client, oid, code)
    assert_strict(set_cookies(r)[ORDER], f"/o/{oid}", ORDER_S)
    r = client.post("/lang", data={"lang": "zh-CN", "csrf": token}, follow_redirects=False)
    assert_strict(set_cookies(r)["lang"], "/", 365 * 86400)
    assert set_cookies(r)["lang"]["value"] == "zh-CN"
    r = client.post("/lang", data={"lang": "<b>", "csrf": token}, follow_redirects=False)
    assert set_cookies(r)["lang"]["value"] == "en"
    # pages that show data are not stored by caches
    for path in ("/", "/orders", f"/o/{oid}", "/login"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    # over HTTPS (last: the client's jar then holds Secure cookies only)
    r = client.get("https://testserver/login", headers=jar())
    assert "secure" in set_cookies(r)[CSRF]
    r = client.post(
        "https://testserver/login",
        data={"key": planner_key, "csrf": token},
        headers=jar(pl_csrf=token),
        follow_redirects=False,
    )
    assert "secure" in set_cookies(r)[SESSION]


# --- HTML in what pages echo ---


def test_html_in_ids_filters_and_values_is_escaped(client: TestClient, planner_key: str) -> None:
    """An order id, a search, every filter, an option value, a variant, a scenario, a
    what-if's name and patch, a sizing target, a job id and a planted CSRF cookie with
    HTML in them come back escaped on the planner's and the customer's pages."""
    oid, token = customer(client, "x", lock=True, options={"note": PAYLOAD})
    client.post("/v1/plan", headers={"X-API-Key": planner_key})
    sign_in(client, planner_key)
    pages: list[Response] = [
        client.get(f"/orders/{PAYLOAD}"),
        client.get("/orders", params={"q": PAYLOAD}),
        client.get(f"/orders/{oid}"),
        client.get("/orders"),
    ]
    assert pages[0].status_code == 404
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0].text
    for name in ("status", "model", "variant", "market", "bound_by"):
        pages.append(client.get("/orders", params={name: PAYLOAD}))
        pages.append(client.get("/orders", params={name: PAYLOAD}, headers=HX))
    open_order(client, oid, token)
    pages += [
        client.get(f"/o/{oid}"),
        client.get(f"/o/{oid}", params={"confirm": "cancel"}),
        client.get(f"/o/{PAYLOAD}"),
        client.get(f"/o/{PAYLOAD}", params={"code": "x"}),
        client.post(f"/o/{PAYLOAD}/open", data={"token": "t" * 32, "csrf": csrf(client)}),
        client.get(f"/o/{oid}", params={"confirm": "change"}),
        client.post(f"/o/{oid}/change", data={"variant": PAYLOAD, "csrf": csrf(client)}),
    ]
    assert pages[-1].status_code == 409  # the refusal, said on the page
    # the planner's forms echo what was typed: a scenario, a what-if, a sizing target
    bad_yaml = f"name: tiny\n{PAYLOAD}: [\n"
    pages += [
        client.post("/scenario", data={"text": bad_yaml, "csrf": csrf(client)}),
        client.post("/whatif", data={"name": PAYLOAD, "text": bad_yaml, "csrf": csrf(client)}),
        client.post("/whatif", data={"name": "x", "text": f"{PAYLOAD}: 1", "csrf": csrf(client)}),
        client.post("/sizing", data={"target": PAYLOAD, "lever": "shift", "csrf": csrf(client)}),
        client.get(f"/jobs/{PAYLOAD}"),
        client.get(f"/jobs/{PAYLOAD}/{PAYLOAD}.csv"),
    ]
    assert [r.status_code for r in pages[-6:]] == [422, 422, 422, 422, 404, 404]
    planted = ("'" + PAYLOAD).ljust(43, "x")  # 43 characters: taken as this browser's token
    session = str(client.cookies[SESSION])
    pages.append(client.get("/orders", headers=jar(pl_csrf=planted, pl_session=session)))
    pages.append(client.get("/login", headers=jar(pl_csrf=planted)))
    for r in pages:
        assert r.status_code < 500, r.url
        assert r.headers["content-type"].startswith("text/html"), r.url
        assert RAW not in r.text, r.url
        if "<body" in r.text:  # a whole page, not an htmx partial
            assert 'hx-headers=\'{"X-CSRF-Token": "' in r.text  # the attribute is intact
    assert "&#39;&#34;&gt;&lt;img" in pages[-1].text  # the planted token, escaped


def test_an_unknown_download_name_is_escaped(client: TestClient, planner_key: str) -> None:
    path = f"/download/{PAYLOAD}.csv"
    r = client.get(path, follow_redirects=False)  # a link from a mail: no session yet
    assert to_login(r)
    login = client.get(r.headers["location"])
    hidden = re.search(r'name="next" value="([^"]*)"', login.text)
    assert hidden
    target = html.unescape(hidden.group(1))
    assert target == path  # the sign-in sends the planner on to the payload
    r = client.post(
        "/login",
        data={"key": planner_key, "csrf": csrf(client), "next": target},
        follow_redirects=False,
    )
    r = client.get(r.headers["location"])
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/plain")  # echoed, never as HTML


# --- bad input ---


def test_bad_input_gets_a_clear_answer(client: TestClient, planner_key: str) -> None:
    """Unknown filter values, junk cursors, over-long and huge query strings, unknown
    tables, formats and orders, path tricks: a 4xx or an empty result, never a 5xx."""
    book(client, planner_key, locked=3, reserved=1)
    sign_in(client, planner_key)
    empty = (
        {"model": "nope"},
        {"variant": "XL"},
        {"market": "Mars"},
        {"bound_by": "line:nope"},
        {"after": "zzzz"},
        {"after": "~~~~", "bound_by": "line:l1"},
        {"model": "A' OR '1'='1"},
    )
    for params in empty:
        r = client.get("/orders", params=params)
        assert r.status_code == 200, params
        assert "/orders/PL-" not in r.text, params
        assert client.get("/download/orders.csv", params=params).status_code == 200
    for params in (
        {"after": "!"},
        {"after": ""},
        {"after": "9" * 40 + "|x"},  # a position past any integer the database holds
        {"status": ""},
        {"junk": "x" * 30_000},
    ):
        assert client.get("/orders", params=params).status_code == 200, str(params)[:40]
    too_long = (
        {"q": "x" * 129},
        {"status": "x" * 33},
        {"model": "x" * 65},
        {"bound_by": "x" * 129},
        {"after": "x" * 141},  # a cursor is POSITION|ORDER_ID: an id and 11 more
    )
    for params in too_long:
        assert client.get("/orders", params=params).status_code == 422, params
        assert client.get("/download/orders.csv", params=params).status_code in (200, 422)
    for path, status in (
        ("/download/nope.csv", 404),
        ("/download/orders.pdf", 404),
        ("/download/backlog.exe", 404),
        ("/download/orders", 404),
        ("/download/orders.csv.xlsx", 404),
        ("/download/..%2f..%2fetc%2fpasswd.csv", 404),
        ("/download/.csv", 404),
        ("/orders/PL-000000-0000000000", 404),
        ("/orders/%20", 404),
        ("/static/..%2fpages.py", 404),
        ("/static/../session.py", 404),
        ("/static/%2e%2e/render.py", 404),
    ):
        r = client.get(path)
        assert r.status_code == status, (path, r.status_code)
        assert "page_secret" not in r.text, path
        assert "import" not in r.text, path
    r = client.get("/orders/PL-000000-0000000000")
    assert "No order PL-000000-0000000000" in r.text
    assert client.get("/overview.json").json()["kpis"]


def test_an_unknown_status_filter_finds_nothing(client: TestClient, planner_key: str) -> None:
    book(client, planner_key, locked=3, reserved=0)
    sign_in(client, planner_key)
    r = client.get("/download/orders.csv", params={"status": "canceled"})
    assert r.status_code == 422
    assert "status must be one of" in r.text
    r = client.get("/orders", params={"status": "canceled"})
    assert r.status_code == 422
    assert matches(r) == 0


@pytest.mark.both_stores
def test_a_nul_in_a_filter_is_no_server_error(client: TestClient, planner_key: str) -> None:
    """A NUL byte in an order id, a search, a filter or a cursor: 4xx or nothing found."""
    sign_in(client, planner_key)
    for path, params in (
        ("/orders/PL%00", {}),
        ("/orders", {"q": "PL\x00"}),
        ("/orders", {"model": "A\x00"}),
        ("/orders", {"after": "\x00"}),
        ("/download/orders.csv", {"market": "\x00"}),
    ):
        r = client.get(path, params=params)
        assert r.status_code < 500, (path, params, r.status_code)


# --- downloads ---


def test_overview_downloads_equal_the_overview(client: TestClient, planner_key: str) -> None:
    """Each overview table as CSV holds the rows the page's data holds; its xlsx the same
    cells (a real zip of sheets)."""
    book(client, planner_key)
    sign_in(client, planner_key)
    ov = client.get("/overview.json").json()
    for name in TABLES:
        want = ov["waits"][name.split("_")[-1]] if name.startswith("waits") else ov[name]
        assert want, name
        got = csv_rows(client.get(f"/download/{name}.csv"))
        assert len(got) == len(want), name
        assert list(got[0]) == list(want[0]), name
        for row, expected in zip(got, want, strict=True):
            for col, value in expected.items():
                assert same(row[col], value), (name, col, row[col], value)
        r = client.get(f"/download/{name}.xlsx")
        assert r.headers["content-disposition"] == f'attachment; filename="{name}.xlsx"'
        assert_xlsx_is_csv(xlsx_rows(r), got)


@pytest.mark.both_stores
def test_order_downloads_equal_the_api_and_the_page(client: TestClient, planner_key: str) -> None:
    """Orders as CSV and xlsx, for no filter and for each filter: the orders the API lists
    for it (ids, statuses, windows) and as many as the page says match."""
    book(client, planner_key)
    sign_in(client, planner_key)
    for where in ({}, {"status": "locked"}, {"status": "reserved"}, {"variant": "M"}):
        page = client.get("/orders", params=where)
        api = api_orders(client, planner_key, **where)
        got = csv_rows(client.get("/download/orders.csv", params=where))
        assert matches(page) == len(api) == len(got), where
        listed = re.findall(r'<a href="/orders/([^"]+)">', page.text)  # the queue first
        assert sorted(listed) == sorted(o["order_id"] for o in api)
        by_id = client.get("/orders", params=where | {"sort": "id"})
        assert re.findall(r'<a href="/orders/([^"]+)">', by_id.text) == [o["order_id"] for o in api]
        for row, o in zip(got, api, strict=True):
            for col in ("order_id", "model", "variant", "market", "status", "locked_at"):
                assert same(row[col], o[col]), (where, col, row[col], o[col])
            w = o["window"]
            if w is not None:  # a queued order: the window last promised
                for col in ("earliest", "likely", "latest", "queue_position"):
                    assert same(row[col], w[col]), (where, col, row[col], w[col])
                assert row["window_source"] == w["source"]
        r = client.get("/download/orders.xlsx", params=where)
        assert_xlsx_is_csv(xlsx_rows(r), got)
        assert r.headers["content-disposition"] == 'attachment; filename="orders.xlsx"'
        # the page's own download links carry its filter
        links = re.findall(r'href="(/download/orders\.csv[^"]*)"', page.text)
        assert [html.unescape(h) for h in links][:1] == [
            "/download/orders.csv?" + "&".join(f"{k}={v}" for k, v in where.items())
        ]


def test_download_links_keep_a_filter_with_plus_or_ampersand(
    client: TestClient, planner_key: str
) -> None:
    text = client.get("/v1/scenario", headers=ADMIN).text
    market = "  - {name: CN, lead_days: 7}\n"
    assert market in text
    changed = text.replace(market, market + "  - {name: EU+UK, lead_days: 7}\n")
    assert client.put("/v1/scenario", content=changed, headers=ADMIN | YAML).status_code == 200
    made = [customer(client, f"eu{i}", market="EU+UK")[0] for i in range(3)]
    sign_in(client, planner_key)
    page = client.get("/orders", params={"market": "EU+UK"})
    assert matches(page) == 3
    (link,) = re.findall(r'href="(/download/orders\.csv[^"]*)"', page.text)
    rows = csv_rows(client.get(html.unescape(link)))
    assert sorted(r["order_id"] for r in rows) == sorted(made)


def test_held_back_by_with_a_status_narrows_it(client: TestClient, planner_key: str) -> None:
    """Both filters the page offers work together: held back by a constraint and of a
    status (as the plan's book has it) lists those orders; a status the plan holds back
    none of lists none (the pair was refused with a 422)."""
    book(client, planner_key, locked=6, reserved=2)
    sign_in(client, planner_key)
    binding = client.get("/overview.json").json()["binding"]
    constraint = binding[0]["constraint"]
    held = matches(client.get("/orders", params={"bound_by": constraint}))
    assert held > 0
    page = client.get("/orders", params={"bound_by": constraint, "status": "locked"})
    assert page.status_code == 200
    locked = matches(page)
    reserved = matches(client.get("/orders", params={"bound_by": constraint, "status": "reserved"}))
    assert locked > 0
    assert locked + reserved == held  # the held back here are locked or reserved
    for where in ({"bound_by": constraint, "status": "cancelled"},):
        assert matches(client.get("/orders", params=where)) == 0
        r = client.get("/download/orders.csv", params=where)
        assert r.status_code == 200
        assert csv_rows(r) == []
    r = client.get("/download/orders.csv", params={"bound_by": constraint, "status": "locked"})
    assert len(csv_rows(r)) == locked


# --- pages need a session ---


def test_every_planner_page_needs_a_session(client: TestClient, planner_key: str) -> None:
    """Without a session (or with junk), every planner page, partial, data feed and
    download goes to sign-in: 303 with next= for a page, 401 with HX-Redirect for htmx;
    nothing of the data leaks. The session cookie does not open the JSON API."""
    (oid, _), *_ = book(client, planner_key, locked=2, reserved=0)
    paths = [
        "/",
        "/overview.json",
        "/orders",
        "/orders?status=locked&model=A",
        f"/orders/{oid}",
        "/orders/nope",
        "/download/orders.csv",
        "/download/orders.xlsx?status=locked",
        "/download/nope.csv",
        "/download/orders.pdf",
        *(f"/download/{t}.{f}" for t in TABLES for f in ("csv", "xlsx")),
        "/scenario",
        "/whatif",
        "/sizing",
        "/jobs/nope",
        "/jobs/nope/waits.csv",
    ]
    forms = {
        "/scenario": {"text": "name: x"},
        "/whatif": {"text": "plants: []"},
        "/sizing": {"target": "p90_wait<=30d", "lever": "shift"},
    }
    for cookies in (jar(), jar(pl_session="junk"), jar(pl_session="", pl_csrf=csrf(client))):
        for path in paths:
            r = client.get(path, headers=cookies, follow_redirects=False)
            assert r.status_code == 303, (path, r.status_code)
            assert r.headers["location"] == "/login?next=" + path.split("?")[0], path
            assert oid not in r.text
            r = client.get(path, headers=cookies | HX, follow_redirects=False)
            assert (r.status_code, r.headers.get("hx-redirect")) == (401, "/login"), path
            assert r.content == b"", path
        for path, data in forms.items():  # before the CSRF check: nothing to learn
            r = client.post(path, data=data, headers=cookies, follow_redirects=False)
            assert (r.status_code, r.headers.get("location")) == (303, f"/login?next={path}")
            r = client.post(path, data=data, headers=cookies | HX, follow_redirects=False)
            assert (r.status_code, r.headers.get("hx-redirect")) == (401, "/login"), path
    session = sign_in(client, planner_key)
    r = client.get("/v1/orders", headers=jar(pl_session=session))
    assert r.status_code == 401
    r = client.get("/orders", headers=HX)
    assert r.status_code == 200
    assert "<html" not in r.text  # the partial alone
    assert "orders match" in r.text


@pytest.mark.both_stores
def test_orders_are_listed_in_queue_order_page_by_page(
    client: TestClient, planner_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default the page lists the queue first, by place (then the orders without one,
    by id), three to a page here, each Next page after the last: page 1 was 50 export
    orders by id, not the front of the queue."""
    from promiseline.web import pages

    monkeypatch.setattr(pages, "PAGE", 3)
    book(client, planner_key, locked=7, reserved=2)
    sign_in(client, planner_key)
    api = {o["order_id"]: o for o in api_orders(client, planner_key)}
    seen: list[str] = []
    url = "/orders"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += re.findall(r'<a href="/orders/([^"]+)">', page.text)
        nxt = re.search(r'<a href="(/orders\?[^"]*after=[^"]*)"', page.text)
        url = html.unescape(nxt[1]) if nxt else ""
    assert sorted(seen) == sorted(api)

    def place(oid: str) -> tuple[int, str]:
        q = (api[oid].get("window") or {}).get("queue_position")
        return (q if q is not None else 2**31, oid)

    assert seen == sorted(seen, key=place), " ".join(
        f"{place(o)[0]}:{api[o]['status']}:{o[-4:]}" for o in seen
    )
    assert place(seen[0])[0] == 1  # the front of the queue first
