"""HTTP request and response bodies (the OpenAPI schema is generated from these)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
    model_config = ConfigDict(extra="forbid")


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


class ProgressUpdate(Strict):
    """Planner-side progress of an order."""

    status: Literal["scheduled", "built", "shipped", "delivered"]
    line: Text | None = None
    build_date: dt.date | None = None


class WindowPublic(BaseModel):
    build_date: dt.date | None
    earliest: dt.date | None
    latest: dt.date | None
    queue_position: int | None


class EventPublic(BaseModel):
    event_id: int
    kind: str
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
    status: str
    created_at: LocalTime
    locked_at: LocalTime | None
    queue_position: int | None
    window: WindowPublic | None
    window_is_indicative: bool
    bound_by: str | None
    events: list[EventPublic]


class OrderCreated(OrderPublic):
    token: str = Field(description="Secret for this order: send it as X-Order-Token.")


class Cancelled(OrderPublic):
    refund: bool


class OrderSummary(BaseModel):
    order_id: str
    model: str
    variant: str
    market: str
    status: str
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


class KeyCreate(Strict):
    role: Literal["planner", "admin"]


class KeyCreated(BaseModel):
    key_id: str
    role: str
    key: str = Field(description="Shown once; only its hash is stored.")


class KeyPublic(BaseModel):
    key_id: str
    role: str
    created_at: LocalTime
    revoked_at: LocalTime | None


class ErrorPublic(BaseModel):
    detail: Any
