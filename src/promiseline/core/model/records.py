"""What the order store holds and answers: plain, immutable records.

The store takes and returns only these (and `Window`, `Promises`, `OrderBook`); no
column names or SQL cross its boundary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from promiseline.core.model.lifecycle import EventKind, Status
from promiseline.core.model.window import NO_WINDOW, Window

Role = Literal["planner", "admin"]
ROLES: tuple[Role, ...] = ("planner", "admin")


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
    status: Status  # reserved or locked
    created_at: dt.datetime
    locked_at: dt.datetime | None
    actor: str
    window: Window | None = None  # promised at intake


@dataclass(frozen=True, slots=True)
class Probe:
    """A write like an order's, undone in its own transaction: sent through the group
    committer, it proves that the connection intake writes with takes writes now."""

    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Created:
    """The outcome of one create: new, a replay of the same key, or a key conflict."""

    order_id: str
    outcome: Literal["created", "replayed", "conflict"]


@dataclass(frozen=True, slots=True)
class Transition:
    """A change to one order, allowed only from some statuses; appends one event.

    Only the fields given (not None) change; `window` replaces the promised window.
    """

    order_id: str
    kind: EventKind
    allowed_from: frozenset[Status]
    actor: str
    at: dt.datetime
    status: Status | None = None
    locked_at: dt.datetime | None = None
    variant: str | None = None
    options: str | None = None  # canonical JSON
    line: str | None = None
    build_date: dt.date | None = None
    window: Window | None = None
    data: dict[str, Any] = field(default_factory=dict)  # the event's payload
    sailing_id: str | None = None
    clear: frozenset[str] = frozenset()  # of CLEARABLE: set to nothing (a correction)


CLEARABLE = frozenset({"line", "build_date", "sailing_id"})
"""What a transition may clear: where and when the plant said an order was built."""


@dataclass(frozen=True, slots=True)
class Transitioned:
    order_id: str
    outcome: Literal["done", "not_found", "not_allowed"]
    status: Status | None  # when not allowed: the status it has


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order_id: str
    model: str
    variant: str
    options: str  # canonical JSON
    market: str
    priority: int
    status: Status
    created_at: dt.datetime
    locked_at: dt.datetime | None
    line: str | None = None
    build_date: dt.date | None = None
    window: Window = NO_WINDOW  # the window last promised
    sailing_id: str | None = None  # by sea, once scheduled or built: <lane>:<departure>

    def options_dict(self) -> dict[str, str]:
        parsed: dict[str, str] = orjson.loads(self.options)
        return parsed

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "model": self.model,
            "variant": self.variant,
            "options": self.options_dict(),
            "market": self.market,
            "priority": self.priority,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "locked_at": self.locked_at.isoformat() if self.locked_at else None,
        }


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a listing shows (None: any)."""

    status: Status | None = None
    model: str | None = None
    variant: str | None = None
    market: str | None = None


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of a listing by order id, and how many orders match in all."""

    orders: list[OrderRecord]
    count: int
    next_after: str | None


@dataclass(frozen=True, slots=True)
class Event:
    event_id: int
    order_id: str
    kind: EventKind
    at: dt.datetime
    actor: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Versions:
    """Change sequences: each moves whenever the order book or the scenario changes, in
    the same transaction, so a plan can say which state it was computed from."""

    book: int
    scenario: int


@dataclass(frozen=True, slots=True)
class StoredScenario:
    text: str  # the YAML as it was sent
    version: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery in the outbox."""

    delivery_id: int
    target: str
    body: str  # JSON, signed as it is
    attempts: int
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int
    dead: int
    failures: int  # failed attempts, all time
