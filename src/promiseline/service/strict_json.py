"""Request JSON read strictly: an object that names a key twice is refused (parsers keep
the last value silently, so a proxy or a log that read the first one disagrees with what
the service did)."""

from __future__ import annotations

import json
from typing import Any


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKeyError(k)
        out[k] = v
    return out


def duplicate_key(raw: bytes) -> str | None:
    """The first key some object in `raw` names twice; None if none does (or if `raw` is
    not JSON at all: the model's validation says what is wrong then)."""
    try:
        json.loads(raw, object_pairs_hook=_pairs)
    except _DuplicateKeyError as e:
        return e.key
    except ValueError:  # not JSON (UnicodeDecodeError included)
        return None
    return None


def duplicate_error(key: str) -> dict[str, Any]:
    """The 422 detail item for a duplicated key (the shape of every validation error)."""
    return {
        "loc": ["body", key],
        "msg": f"duplicate key {key!r}: a JSON object names each key once",
        "type": "duplicate_key",
    }
