"""Every answer carries the security headers: the strict Content-Security-Policy, no
framing, no sniffing, no referrer; the API's, the pages', the guard's own refusals and
the static files alike."""

from __future__ import annotations

from fastapi.testclient import TestClient

from promiseline.service.guard import MAX_BODY
from promiseline.service.headers import CSP
from tests.service.conftest import ADMIN, client, clock, db_url, store  # noqa: F401


def test_every_answer_has_the_security_headers(client: TestClient) -> None:  # noqa: F811
    answers = {
        "page": client.get("/login"),
        "static": client.get("/static/app.css"),
        "api": client.get("/healthz"),
        "api error": client.get("/v1/orders/nope"),
        "not found": client.get("/no/such/thing"),
        "guard 413": client.post("/v1/orders", content=b"x" * (MAX_BODY + 1)),
        "guard 431": client.get("/healthz", headers={"X-Big": "x" * 20_000}),
        "redirect": client.get("/", follow_redirects=False),
        "planner api": client.get("/v1/keys", headers=ADMIN),
    }
    for what, r in answers.items():
        assert r.headers.get("content-security-policy") == CSP, what
        assert r.headers.get("x-frame-options") == "DENY", what
        assert r.headers.get("x-content-type-options") == "nosniff", what
        assert r.headers.get("referrer-policy") == "no-referrer", what
    assert answers["guard 413"].status_code == 413
    assert answers["guard 431"].status_code == 431
    for part in ("default-src 'self'", "script-src 'self';", "style-src 'self';"):
        assert part in CSP
    assert "unsafe" not in CSP
    assert "frame-ancestors 'none'" in CSP


def test_the_api_docs_keep_working(client: TestClient) -> None:  # noqa: F811
    """/docs loads Swagger UI from its CDN with an inline start-up script: its policy
    allows exactly that, and it is still not framed or sniffed."""
    r = client.get("/docs")
    assert r.status_code == 200
    policy = r.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in policy
    assert "frame-ancestors 'none'" in policy
    assert r.headers["x-frame-options"] == "DENY"
