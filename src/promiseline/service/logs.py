"""Logging for the service: one line per record, and no secret in any line. An order token
opens an order (`?token=` is how a browser's event stream sends it) and a one-time link's
`?code=` opens a customer's page: both, and every other secret parameter, are redacted."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

# query parameters that carry a secret (the routes read `token` and `code`; the others are
# what a client might send by mistake: an API key or a session in an address)
SECRETS = frozenset(
    {"token", "code", "key", "session", "api_key", "apikey", "x-api-key", "secret", "password"}
)
_QUERY = re.compile(r"\?(\S*)")
_PAIR = re.compile(r"[&;]")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Every query pair whose name is a secret is replaced by `name=[redacted]`. The name
    is read as a server might (percent-encoding and `+` undone, repeatedly; case and
    spaces ignored); pairs are split on `&` and `;`; a query runs to the next whitespace,
    so quotes or other odd characters before a secret do not hide it."""
    return _QUERY.sub(_redact_query, text)


def _secret_name(raw: str) -> str | None:
    name = raw
    for _ in range(4):  # %2574oken is %74oken is token
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    name = name.split("=", 1)[0].strip().lstrip("?").lower()  # token%3Dabc: token=abc
    return name if name in SECRETS else None


def _redact_query(m: re.Match[str]) -> str:
    query = m.group(1)
    tail = ""
    if query[-1:] in ('"', "'"):  # the quote closing a logged request line stays
        query, tail = query[:-1], query[-1]
    seps = _PAIR.findall(query)
    parts = []
    for part in _PAIR.split(query):
        name = _secret_name(part.split("=", 1)[0])
        parts.append(f"{name}={REDACTED}" if name else part)
    out = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=True))
    return "?" + out + tail


class RedactTokens(logging.Filter):
    """Rewrites a record's message and arguments without secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging: warnings and errors, and with `access_log` one line per request,
    every line through RedactTokens."""
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "filters": ["redact"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactTokens}},
        "formatters": {"plain": {"format": fmt}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "uvicorn.access": {
                "handlers": ["stderr"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
            "promiseline": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
