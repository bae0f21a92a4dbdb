"""The `Plan`: every order's line, build and delivery date, queue position and binding
constraint, plus per line, part and day aggregates. Every output derives from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.capacity import Capacity
from promiseline.core.classes import Classes, Config
from promiseline.core.orders import OrderBook
from promiseline.core.scenario import Scenario
from promiseline.core.state import State

I32 = npt.NDArray[np.int32]
FROZEN, ACTIVE, RESERVED = 0, 1, 2
PLAN_COLUMNS = (
    "order_id",
    "model",
    "variant",
    "market",
    "priority",
    "locked_at",
    "status",
    "plant",
    "line",
    "build_date",
    "delivery_date",
    "wait_days",
    "queue_position",
    "model_queue_position",
    "bound_by",
    "reason",
)


NO_LINE = "no line builds this model"


def no_slot(s: Scenario) -> str:
    return f"horizon: no slot before {s.end.isoformat()}"


def market_days(s: Scenario, markets: npt.NDArray[np.int32]) -> tuple[I32, I32]:
    """Per order (by market index): lead days, and the day its market opens (or never)."""
    lead = np.array([m.lead_days for m in s.markets], dtype=np.int32)
    opens = np.array(
        [(m.opens - s.start).days if m.opens else -(2**30) for m in s.markets], dtype=np.int32
    )
    return lead[markets], opens[markets]


def delivery_day(day: npt.NDArray[np.integer[Any]], lead: I32 | int, opens: I32 | int) -> I32:
    """Build day + market lead time, not before the market opens (SCENARIO.md)."""
    out: I32 = np.maximum(day + lead, opens).astype(np.int32)
    return out


def backlog_curve(
    release: npt.NDArray[np.integer[Any]], leave: npt.NDArray[np.integer[Any]], days: int
) -> npt.NDArray[np.int64]:
    """Per day, orders released by then that have not left yet (built or cancelled)."""
    release = np.clip(release, 0, days)
    leave = np.clip(np.maximum(leave, release), 0, days)  # a frozen order may predate its lock
    arrive = np.cumsum(np.bincount(release, minlength=days + 1))[:days]
    gone = np.cumsum(np.bincount(leave, minlength=days + 1))[:days]
    return (arrive - gone).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Placement:
    """Per order in planning order: day and line (-1: none), bound code, blocked day."""

    day: I32
    line: I32
    bound: I32
    blocked: I32

    @classmethod
    def empty(cls, n: int) -> Placement:
        return cls(*(np.full(n, -1, dtype=np.int32) for _ in range(4)))


def bound_names(s: Scenario, cap: Capacity) -> list[str]:
    """Names of the kernel's bound codes, then one `market:` code per market."""
    return (
        ["", "shutdown"]
        + [f"part:{p}" for p in cap.part_names]
        + [f"line:{ln}" for ln in cap.line_names]
        + [f"mix:{m.name}" for m in cap.mixes]
        + [f"market:{m.name}" for m in s.markets]
    )


def _text(names: list[str], codes: npt.NDArray[np.integer[Any]]) -> pl.Series:
    """Codes (-1 = null) to strings, via a categorical gather (fast for 1M rows)."""
    idx = pl.Series(codes.astype(np.int64))
    idx = pl.select(pl.when(idx >= 0).then(idx)).to_series()
    return pl.Series(names, dtype=pl.String).gather(idx)


def _nulls(values: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_]) -> pl.Series:
    v = pl.Series(values.astype(np.int64))
    return pl.select(pl.when(pl.Series(keep)).then(v)).to_series()


@dataclass(frozen=True, slots=True)
class Plan:
    """A planned order book. `table` has the columns of SCENARIO.md in planning order."""

    scenario: Scenario
    capacity: Capacity
    book: OrderBook
    classes: Classes
    configs: dict[Config, int]
    state: State  # after every booking
    ix: npt.NDArray[np.uint32]  # row in book.table, per plan row
    group: npt.NDArray[np.int8]
    order_cls: I32
    rel: I32  # release day: first day the order may be built
    placement: Placement
    bound: I32  # final bound code (market included)
    planned_cum: npt.NDArray[np.int64]  # planned orders up to and including each row
    lead: I32  # per row: its market's lead days
    opens: I32  # per row: the day its market opens
    table: pl.DataFrame
    n_frozen: int  # rows are frozen, then planned by the rule, then reserved
    n_active: int
    active_priority: npt.NDArray[np.int64]  # sort keys of the rows planned by the rule
    active_locked_us: npt.NDArray[np.int64]
    bound_text: list[str]  # name of each bound code
    quote_classes: dict[Config, Classes] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        *,
        scenario: Scenario,
        capacity: Capacity,
        book: OrderBook,
        classes: Classes,
        configs: dict[Config, int],
        state: State,
        ix: npt.NDArray[np.uint32],
        group: npt.NDArray[np.int8],
        order_cls: I32,
        rel: I32,
        placement: Placement,
    ) -> Plan:
        cap, start = capacity, scenario.start
        rows = book.table[pl.Series(ix)]
        markets = {m.name: i for i, m in enumerate(scenario.markets)}
        mk = rows["market"].replace_strict(markets, return_dtype=pl.Int32).to_numpy()
        lead, opens = market_days(scenario, mk)
        day, line = placement.day, placement.line
        has_slot = line >= 0
        planned = (group == FROZEN) | ((group == ACTIVE) & has_slot)
        delivery = delivery_day(day, lead, opens)
        by_market = has_slot & (opens > day + lead)
        names = bound_names(scenario, cap)
        market_base = len(names) - len(scenario.markets)
        bound = np.where(by_market, market_base + mk, placement.bound).astype(np.int32)

        locked_day = (rows["locked_at"].dt.date().to_numpy() - np.datetime64(start, "D")).astype(
            np.int64
        )
        no_line = np.array(
            [not any(m in ms for ms in cap.line_models) for m in classes.models], dtype=bool
        )
        reason = np.full(len(ix), -1, dtype=np.int8)
        active_miss = (group == ACTIVE) & ~has_slot
        reason[active_miss] = 0
        reason[active_miss & (rel >= cap.days)] = 1
        reason[active_miss & no_line[order_cls]] = 2
        reason[(group == RESERVED) & has_slot] = 3
        reason[(group == RESERVED) & ~has_slot] = 4
        end = scenario.end.isoformat()
        reason_text = [
            no_slot(scenario),
            f"horizon: locked after the horizon ends ({end})",
            NO_LINE,
            "reserved: indicative quote, nothing booked",
            f"reserved: no slot before {end}",
        ]
        epoch = np.datetime64(start, "D")
        build_date = np.where(has_slot | planned, epoch + day, np.datetime64("NaT"))
        delivery_date = np.where(has_slot | planned, epoch + delivery, np.datetime64("NaT"))
        wait = np.where(has_slot | planned, delivery - locked_day, -1)
        queue = np.cumsum(planned)
        _, model_of_class = np.unique(np.array(classes.models, dtype=object), return_inverse=True)
        model = model_of_class[order_cls] if len(order_cls) else order_cls
        model_queue = np.zeros(len(ix), dtype=np.int64)
        for m in np.unique(model):
            mine = model == m
            model_queue[mine] = np.cumsum(planned[mine])
        table = pl.DataFrame(
            {
                "order_id": rows["order_id"],
                "model": rows["model"],
                "variant": rows["variant"],
                "market": rows["market"],
                "priority": rows["priority"],
                "locked_at": rows["locked_at"],
                "status": _text(["unplanned", "planned"], planned.astype(np.int8)),
                "plant": _text(list(cap.plant_names), line),
                "line": _text(list(cap.line_names), line),
                "build_date": pl.Series(build_date, dtype=pl.Date),
                "delivery_date": pl.Series(delivery_date, dtype=pl.Date),
                "wait_days": _nulls(wait, has_slot | planned),
                "queue_position": _nulls(queue, planned),
                "model_queue_position": _nulls(model_queue, planned),
                "bound_by": _text(names, bound),
                "reason": _text(reason_text, reason),
            }
        )
        table = table.select(PLAN_COLUMNS)
        n_frozen, n_active = int((group == FROZEN).sum()), int((group == ACTIVE).sum())
        return cls(
            scenario,
            cap,
            book,
            classes,
            configs,
            state,
            ix,
            group,
            order_cls,
            rel,
            placement,
            bound,
            queue,
            lead,
            opens,
            table,
            n_frozen,
            n_active,
            table["priority"].slice(n_frozen, n_active).to_numpy(),
            table["locked_at"].slice(n_frozen, n_active).dt.epoch("us").to_numpy(),
            names,
        )

    def planned_before(self, active_pos: int) -> int:
        """Planned orders ahead of the `active_pos`-th order planned by the rule."""
        idx = self.n_frozen + active_pos
        return int(self.planned_cum[idx - 1]) if idx > 0 else 0

    # --- views ---

    def to_polars(self) -> pl.DataFrame:
        return self.table

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    @property
    def planned(self) -> pl.DataFrame:
        return self.table.filter(pl.col("status") == "planned")

    def order(self, order_id: str) -> dict[str, Any]:
        """One plan row as a dict (raises UnknownOrderError)."""
        from promiseline.errors import UnknownOrderError

        hit = self.table.filter(pl.col("order_id") == order_id)
        if hit.height == 0:
            raise UnknownOrderError(f"order {order_id!r} is not in the plan")
        return hit.row(0, named=True)

    def line_days(self) -> pl.DataFrame:
        """Per line and day: capacity in slots and orders built."""
        cap = self.capacity
        n_lines, days = cap.slots.shape
        built = cap.slots - self.state.free
        return pl.DataFrame(
            {
                "line": np.repeat(np.array(cap.line_names, dtype=object), days).tolist(),
                "date": np.tile(np.datetime64(cap.start, "D") + np.arange(days), n_lines),
                "capacity": cap.slots.ravel(),
                "built": built.ravel(),
            }
        )

    def part_days(self) -> pl.DataFrame:
        """Per part and day: cumulative supply, cumulative use and stock at day's end."""
        cap = self.capacity
        n_parts, days = cap.on_hand.shape
        stock = self.state.available() if n_parts else np.zeros((0, days), dtype=np.int64)
        return pl.DataFrame(
            {
                "part": np.repeat(np.array(cap.part_names, dtype=object), days).tolist(),
                "date": np.tile(np.datetime64(cap.start, "D") + np.arange(days), n_parts),
                "supplied": cap.on_hand.ravel(),
                "used": (cap.on_hand - stock).ravel(),
                "stock": stock.ravel(),
            }
        )

    def backlog(self) -> pl.DataFrame:
        """Per day: orders released by that day and not yet built (unplanned included)."""
        days = self.capacity.days
        keep = self.group != RESERVED
        built = np.where(self.placement.line[keep] >= 0, self.placement.day[keep], days)
        return pl.DataFrame(
            {
                "date": np.datetime64(self.capacity.start, "D") + np.arange(days),
                "backlog": backlog_curve(self.rel[keep], built, days),
            }
        )

    def summary(self) -> dict[str, Any]:
        from promiseline.core.report import summary

        return summary(self)
