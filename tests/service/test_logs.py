"""Order tokens stay out of every log line, the access log included."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

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
        with httpx.stream(
            "GET", f"{url}/v1/orders/{o['order_id']}/events?%74oken={o['token']}"
        ) as r:
            assert r.status_code == 200  # the server reads the encoded name as token
    text = log.read_text()
    assert "/events?token=[redacted]" in text, text[-2000:]
    assert o["token"] not in text
