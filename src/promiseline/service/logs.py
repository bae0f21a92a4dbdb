"""Logging for the service: one line per record, and no order token in any line (an
order token opens an order; `?token=` is how a browser's event stream sends it)."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

_QUERY = re.compile(r"\?([^\s\"']*)")


def redact(text: str) -> str:
    """Every query parameter that the server would read as `token` (percent-encoded
    names included) is replaced by token=[redacted]."""
    return _QUERY.sub(_redact_query, text)


def _redact_query(m: re.Match[str]) -> str:
    parts = []
    for part in m.group(1).split("&"):
        name = unquote(part.split("=", 1)[0]).lower()
        parts.append("token=[redacted]" if name.split("=", 1)[0] == "token" else part)
    return "?" + "&".join(parts)


class RedactTokens(logging.Filter):
    """Rewrites a record's message and arguments without order tokens."""

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
