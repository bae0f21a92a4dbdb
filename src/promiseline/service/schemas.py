"""HTTP request and response bodies (the OpenAPI schema is generated from these)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from promiseline.core.model.lifecycle import PROGRESS, EventKind, Status
from promiseline.core.model.records import Role

LocalTime = Annotated[
    str,
    Field(
        description="Plant-local time, ISO 8601 without a UTC offset",
        examples=["2025-06-26T22:00:00"],
        pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$",
    ),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Options = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=50)],
        Annotated[str, StringConstraints(max_length=100)],
    ],
    Field(max_length=20),
]


class Strict(BaseModel):
    """A request body: no unknown fields, and no coercion (`"lock": "true"` or `1` is not
    a boolean, `"3"` not a number); dates and enums still come as JSON strings."""

    model_config = ConfigDict(extra="forbid", strict=True)


class OrderCreate(Strict):
    """A new order. `lock: true` makes it firm at once (non-refundable deposit)."""

    model: Text
    variant: Text
    market: Text
    options: Options = Field(default_factory=dict)
    lock: bool = False


class OrderUpdate(Strict):
    """A configuration change, while the order may still change."""

    variant: Text | None = None
    options: Options | None = None


def _progress(status: Status) -> Status:
    if status not in PROGRESS:
        raise ValueError(f"must be one of {[s.value for s in PROGRESS]}")
    return status


class ProgressUpdate(Strict):
    """Progress of an order from the plant: scheduled (line and build_date), built (line
    and build_date, unless it was scheduled), shipped (by sea: sailing_id,
    <lane>:<YYYY-MM-DD>), delivered; `at`: when it happened (default: now). The same
    report twice changes nothing."""

    status: Annotated[Status, AfterValidator(_progress)]
    line: Text | None = None
    build_date: (
        Annotated[dt.date, Field(ge=dt.date(1970, 1, 1), le=dt.date(2199, 12, 31))] | None
    ) = None
    sailing_id: Annotated[str, Field(min_length=3, max_length=120)] | None = None
    at: dt.datetime | None = None


class ProgressCorrection(Strict):
    """Take an order's progress back (a scheduled, built, shipped or delivered order):
    it is locked again, its line, build date and sailing cleared, and its history gets a
    `corrected` event with what it was and `reason`. Report its progress again with
    POST /v1/orders/{order_id}/progress."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class WindowPublic(BaseModel):
    """The delivery window told: from the order's simulated delivery dates (source
    monte-carlo), the shortest run of days holding 80 % of its futures, the median as the
    likely date and `probability` the share of futures inside it (whole days: 0.8 or
    more); from the orders around its place in the queue until a simulation covers it
    (monte-carlo-nearby, their odds); or until the first simulation the planned date and
    a slack (plan: no stated odds). `confidence` is `probability`'s old name."""

    build_date: dt.date | None
    earliest: dt.date | None
    likely: dt.date | None
    latest: dt.date | None
    probability: float | None
    confidence: float | None
    source: Literal["plan", "monte-carlo", "monte-carlo-nearby"]
    queue_position: int | None


class AsOf(BaseModel):
    """The versions an answer was computed from: order book, scenario, and orders booked
    into the plan since it was made."""

    book: int
    scenario: int
    booked: int


class EventPublic(BaseModel):
    event_id: int
    kind: EventKind
    at: LocalTime
    actor: str
    data: dict[str, Any]


class OrderPublic(BaseModel):
    order_id: str
    model: str
    variant: str
    options: dict[str, str]
    market: str
    priority: int
    status: Status
    created_at: LocalTime
    locked_at: LocalTime | None
    queue_position: int | None
    window: WindowPublic | None
    window_is_indicative: bool
    bound_by: str | None
    events: list[EventPublic]
    as_of: AsOf


class OrderCreated(OrderPublic):
    token: str = Field(description="Secret for this order: send it as X-Order-Token.")


class Cancelled(OrderPublic):
    refund: bool


class OrderSummary(BaseModel):
    order_id: str
    model: str
    variant: str
    market: str
    status: Status
    created_at: LocalTime
    locked_at: LocalTime | None
    window: WindowPublic | None


class OrdersPublic(BaseModel):
    data: list[OrderSummary]
    count: int
    next_after: str | None


class QuotePublic(BaseModel):
    model: str
    variant: str
    market: str
    window: WindowPublic | None
    bound_by: str | None
    reason: str | None
    as_of: AsOf


class KeyCreate(Strict):
    role: Role


class KeyCreated(BaseModel):
    key_id: str
    role: Role
    key: str = Field(description="Shown once; only its hash is stored.")


class KeyPublic(BaseModel):
    key_id: str
    role: Role
    created_at: LocalTime
    revoked_at: LocalTime | None
