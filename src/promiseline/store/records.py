"""What the order store holds and answers: plain, immutable records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

EVENT_KINDS = (
    "created",
    "locked",
    "changed",
    "cancelled",
    "scheduled",
    "eta_changed",
    "built",
    "shipped",
    "delivered",
)
Role = Literal["planner", "admin"]


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order to create, with the idempotency key it came with."""

    order_id: str
    idempotency_key: str
    body_hash: str
    model: str
    variant: str
    options: str  # canonical JSON
    market: str
    priority: int
    status: str  # reserved or locked
    created_at: dt.datetime
    locked_at: dt.datetime | None
    actor: str
    window: Window | None = None  # promised at intake


@dataclass(frozen=True, slots=True)
class Window:
    """The delivery window promised to the customer, and where the order stands."""

    build_date: dt.date | None
    earliest: dt.date | None
    latest: dt.date | None
    queue_position: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "build_date": _iso(self.build_date),
            "earliest": _iso(self.earliest),
            "latest": _iso(self.latest),
            "queue_position": self.queue_position,
        }


@dataclass(frozen=True, slots=True)
class Created:
    """The outcome of one create: new, a replay of the same key, or a key conflict."""

    order_id: str
    outcome: Literal["created", "replayed", "conflict"]


@dataclass(frozen=True, slots=True)
class Transition:
    """A status or configuration change, allowed only from some statuses."""

    order_id: str
    kind: str  # event kind
    allowed_from: tuple[str, ...]
    changes: dict[str, Any]  # column -> new value
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Transitioned:
    order_id: str
    outcome: Literal["done", "not_found", "not_allowed"]
    status: str | None  # the status before (or now, when not allowed)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order_id: str
    model: str
    variant: str
    options: str
    market: str
    priority: int
    status: str
    created_at: dt.datetime
    locked_at: dt.datetime | None
    line: str | None
    build_date: dt.date | None
    window: Window
    updated_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        import json

        return {
            "order_id": self.order_id,
            "model": self.model,
            "variant": self.variant,
            "options": json.loads(self.options),
            "market": self.market,
            "priority": self.priority,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "locked_at": self.locked_at.isoformat() if self.locked_at else None,
        }


@dataclass(frozen=True, slots=True)
class Event:
    event_id: int
    order_id: str
    kind: str
    at: dt.datetime
    actor: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None
