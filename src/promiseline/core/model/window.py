"""The delivery window a customer is told: a value the store keeps and every adapter shows.

How a window is made (from a plan, or from Monte Carlo futures) is `futures/promises.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

PLAN = "plan"  # the planned date and a slack: a stand-in until the first simulation
MONTE_CARLO = "monte-carlo"  # the order's own simulated delivery dates
NEARBY = "monte-carlo-nearby"  # borrowed from the orders around its place in the queue
NOMINAL = 0.8  # the odds a Monte Carlo window aims at: it holds at least this much


@dataclass(frozen=True, slots=True)
class ModelWindow:
    """The model's own window behind one recalibrated by outcomes (futures/recalibrate):
    kept with what was told, because recalibration learns from how the model's windows
    fared, never from its own (it would chase its own corrections)."""

    earliest: dt.date
    likely: dt.date
    latest: dt.date

    def to_dates(self) -> dict[str, dt.date]:
        return {"earliest": self.earliest, "likely": self.likely, "latest": self.latest}

    def to_json(self) -> dict[str, str | None]:
        return {
            "earliest": _iso(self.earliest),
            "likely": _iso(self.likely),
            "latest": _iso(self.latest),
        }


@dataclass(frozen=True, slots=True)
class Window:
    """The delivery window promised to the customer, and where the order stands."""

    build_date: dt.date | None
    earliest: dt.date | None  # first day (plan: the planned date)
    latest: dt.date | None  # last day (plan: the planned date plus the slack)
    queue_position: int | None
    likely: dt.date | None = None  # P50 (plan: the planned date)
    source: str = PLAN
    probability: float | None = None  # of delivery inside it, on whole days (plan: none)
    model: ModelWindow | None = None  # the model's own window it was recalibrated from

    def __post_init__(self) -> None:
        if self.likely is None and self.source == PLAN:  # a plan window's likely date
            object.__setattr__(self, "likely", self.earliest)

    @property
    def odds(self) -> float | None:
        """The probability it states, rounded to a percent; none for the plan's stand-in."""
        if self.source == PLAN or self.probability is None:
            return None
        return round(self.probability, 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "build_date": _iso(self.build_date),
            "earliest": _iso(self.earliest),
            "likely": _iso(self.likely),
            "latest": _iso(self.latest),
            "probability": self.odds,
            "confidence": self.odds,  # its name before 0.9 (always 0.8 then)
            "source": self.source,
            "queue_position": self.queue_position,
        } | ({"model": self.model.to_json()} if self.model else {})


NO_WINDOW = Window(None, None, None, None)


@dataclass(frozen=True, slots=True)
class WindowChange:
    """A promised window that moved: what the customer was told, and what holds now."""

    order_id: str
    before: Window
    after: Window

    def to_json(self) -> dict[str, Any]:
        return {"from": self.before.to_json(), "to": self.after.to_json()}


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None
