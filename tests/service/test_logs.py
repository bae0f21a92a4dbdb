"""Order tokens stay out of every log line, the access log included."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from promiseline.service.logs import RedactTokens, redact
from tests.service.server import serving


def test_redact() -> None:
    """token= values are replaced wherever they stand; other parameters stay."""
    assert redact("/v1/orders/X/events?token=abc123") == "/v1/orders/X/events?token=[redacted]"
    assert redact("/q?a=1&token=abc&b=2") == "/q?a=1&token=[redacted]&b=2"
    assert redact("/q?mytoken=keep") == "/q?mytoken=keep"
    assert redact('"GET /x?%74oken=abc&to%6Ben=def HTTP/1.1"') == (
        '"GET /x?token=[redacted]&token=[redacted] HTTP/1.1"'
    )
    assert redact("/x?token%3Dabc") == "/x?token=[redacted]"
    assert "T0P" not in redact('"GET /x?x=\'&token=T0P HTTP/1.1" 200')


@pytest.mark.parametrize(
    "query",
    [
        "x='&token=S3CR3T",  # a quote before the token ended the query
        'x="&token=S3CR3T',
        "code=S3CR3T",  # a one-time link's code
        "a=1;code=S3CR3T",  # ; separates pairs too
        "%63ode=S3CR3T",  # percent-encoded name
        "%2563ode=S3CR3T",  # encoded twice
        "CODE=S3CR3T",
        "token+=S3CR3T",  # + is a space
        "token=a&token=S3CR3T",  # repeated names
        "&&token=S3CR3T&",
        "?token=S3CR3T",
        "key=S3CR3T",
        "session=S3CR3T",
        "x=<'>&session=S3CR3T#frag",
    ],
)
def test_redact_crafted_queries(query: str) -> None:
    """No crafted query keeps a secret parameter's value in a log line, the access log's
    request argument or a whole message."""
    assert "S3CR3T" not in redact(f"/o/X?{query}")
    assert "S3CR3T" not in redact(f'1.2.3.4 - "GET /o/X?{query} HTTP/1.1" 200')
    assert redact(f"/o/X?{query}").count("[redacted]") >= 1


def test_redact_keeps_the_rest() -> None:
    """Pairs that are not secrets, separators and the closing quote stay as they were."""
    assert redact('"GET /x?a=1;code=c&b=%20 HTTP/1.1"') == (
        '"GET /x?a=1;code=[redacted]&b=%20 HTTP/1.1"'
    )
    assert redact('"/o/X?code=abc"') == '"/o/X?code=[redacted]"'
    assert redact("no query here") == "no query here"
    record = logging.LogRecord(
        "uvicorn.access", 20, "", 0, '%s "%s"', ("1.2.3.4", "/x?token=s"), None
    )
    RedactTokens().filter(record)
    assert "s" not in record.getMessage().split("token=")[1]


def test_access_log_has_no_tokens(tmp_path: Path) -> None:
    """With the access log on, a stream opened with ?token= is logged without it."""
    log = tmp_path / "svc.log"
    with serving(f"sqlite:///{tmp_path}/l.db", log, "--access-log") as url:
        o = httpx.post(
            f"{url}/v1/orders",
            json={"model": "A", "variant": "S", "market": "CN"},
            headers={"Idempotency-Key": "k-0123456789abcdef"},
        ).json()
        with httpx.stream("GET", f"{url}/v1/orders/{o['order_id']}/events?token={o['token']}") as r:
            assert r.status_code == 200
        httpx.get(f"{url}/v1/orders/{o['order_id']}/eta?token={o['token']}")
        httpx.get(f"{url}/v1/orders/{o['order_id']}/eta?x='&token={o['token']}")
        link = httpx.post(
            f"{url}/v1/orders/{o['order_id']}/page-link", headers={"X-Order-Token": o["token"]}
        )
        code = link.json()["url"].split("code=")[1]
        httpx.get(f"{url}{link.json()['url']}")
        with httpx.stream(
            "GET", f"{url}/v1/orders/{o['order_id']}/events?%74oken={o['token']}"
        ) as r:
            assert r.status_code == 200  # the server reads the encoded name as token
    text = log.read_text()
    assert "/events?token=[redacted]" in text, text[-2000:]
    assert o["token"] not in text
    assert code not in text
    assert "?code=[redacted]" in text
