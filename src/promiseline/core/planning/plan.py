"""The `Plan`: every order's line, build and delivery date, queue position and binding
constraint, plus per line, part and day aggregates. Every output derives from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.arrays import I32
from promiseline.core.model.orders import OrderBook
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning import kernel
from promiseline.core.planning.capacity import Capacity
from promiseline.core.planning.classes import Classes, Config
from promiseline.core.planning.kernel import FIRST_PART
from promiseline.core.planning.sea import NEVER, NO_SAILING, Sea, Shipped, gate_days, ship
from promiseline.core.planning.state import State

HISTORY, FROZEN, ACTIVE, RESERVED = 0, 1, 2, 3  # the groups, in planning order
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
    "lane",
    "port_date",
    "sailing_id",
    "departure_date",
    "arrival_date",
    "overdue",
)
SAILING_COLUMNS = ("sailing_id", "lane", "departure_date", "arrival_date", "capacity", "loaded")


NO_LINE = "no line builds this model"


def no_slot(s: Scenario) -> str:
    return f"horizon: no slot before {s.end.isoformat()}"


def market_days(s: Scenario, markets: npt.NDArray[np.int32]) -> tuple[I32, I32]:
    """Per order (by market index): lead days (0 by sea), and the day its market opens
    (or never)."""
    lead = np.array([m.lead_days or 0 for m in s.markets], dtype=np.int32)
    opens = np.array(
        [(m.opens - s.start).days if m.opens else NEVER for m in s.markets], dtype=np.int32
    )
    return lead[markets], opens[markets]


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
class Fixed:
    """Per order in planning order, where history and frozen orders stand: line and day
    index (-1: none), and the seat by sea (a sailing, kernel.CHOOSE or NO_SAILING)."""

    line: I32
    day: I32
    sailing: I32


@dataclass(frozen=True, slots=True)
class Placement:
    """Per order in planning order: day and line (-1: none), bound code, blocked day,
    sailing (-1: not by sea, NO_SAILING: none with room)."""

    day: I32
    line: I32
    bound: I32
    blocked: I32
    sailing: I32

    @classmethod
    def empty(cls, n: int) -> Placement:
        return cls(*(np.full(n, -1, dtype=np.int32) for _ in range(5)))


def bound_names(s: Scenario, cap: Capacity) -> list[str]:
    """Names of the kernel's bound codes, then one `market:` and one `gate:` code per
    market and one `sailing:` code per lane."""
    return (
        ["", "shutdown"]
        + [f"part:{p}" for p in cap.part_names]
        + [f"line:{ln}" for ln in cap.line_names]
        + [f"mix:{m.name}" for m in cap.mixes]
        + [f"market:{m.name}" for m in s.markets]
        + [f"gate:{m.name}" for m in s.markets]
        + [f"sailing:{ln}" for ln in cap.sea.lane_names]
        + [f"ahead:{m.name}" for m in s.markets]
    )


def final_bound(
    s: Scenario,
    cap: Capacity,
    mk: I32,
    bound: I32,
    shipped: Shipped,
    placed: npt.NDArray[Any],
    ahead: npt.NDArray[np.bool_] | None = None,
) -> I32:
    """The kernel's bound, named `ahead:` where the build-ahead floor set the build day
    (`ahead`: built on a release the floor raised), then overridden for placed orders by
    what the market and its sailing did (in the order of SCENARIO.md: gate, market,
    sailing)."""
    base = FIRST_PART + len(cap.part_names) + len(cap.line_names) + len(cap.mixes)
    n = len(s.markets)
    out = bound
    if ahead is not None:
        out = np.where(ahead, base + 2 * n + len(cap.sea.lane_names) + mk, bound)
    out = np.where(shipped.by_sailing, base + 2 * n + shipped.lane, out)
    out = np.where(shipped.by_market & placed, base + mk, out)
    out = np.where(shipped.by_gate, base + n + mk, out)
    return out.astype(np.int32)


def _text(names: list[str], codes: npt.NDArray[np.integer[Any]]) -> pl.Series:
    """Codes (-1 = null) to strings, via a categorical gather (fast for 1M rows)."""
    idx = pl.Series(codes.astype(np.int64))
    idx = pl.select(pl.when(idx >= 0).then(idx)).to_series()
    return pl.Series(names, dtype=pl.String).gather(idx)


def _dates(epoch: np.datetime64, day: npt.NDArray[Any], keep: npt.NDArray[np.bool_]) -> pl.Series:
    """Day indexes as dates, null where not `keep` (via polars: fast for 1M rows)."""
    days = pl.Series((day + epoch.astype(np.int64)).astype(np.int32)).cast(pl.Date)
    return pl.select(pl.when(pl.Series(keep)).then(days)).to_series()


def no_sailing_reason(s: Scenario, quota: bool = False) -> str:
    """Why an export order is unplanned; `quota`: its market caps departures a month."""
    room = "with room under its market's monthly quota" if quota else "with room"
    return f"no sailing: none {room} departs before {s.end.isoformat()}"


def sailing_ids(s: Scenario, sea: Sea) -> list[str]:
    """`lane:departure date` of every sailing (lane names hold no colon)."""
    epoch = np.datetime64(s.start, "D")
    days = epoch + sea.sail_day
    return [f"{sea.lane_names[ln]}:{d}" for ln, d in zip(sea.sail_lane.tolist(), days, strict=True)]


def overdue(s: Scenario, rows: pl.DataFrame, group: npt.NDArray[np.int8]) -> pl.Series:
    """Scheduled orders planned by the rule whose build day passed before the plan's day
    without a `built` (only when the scenario says when the plan is made)."""
    late = (rows["status"] == "scheduled") & (rows["build_date"] < s.now).fill_null(False)
    return (late & pl.Series(group == ACTIVE) & (s.as_of is not None)).alias("overdue")


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
    floored: npt.NDArray[np.bool_]  # the release is its market's build-ahead floor
    fixed: Fixed
    placement: Placement
    shipped: Shipped  # delivery, lane, port date and sailing per row
    bound: I32  # final bound code (market included)
    planned_cum: npt.NDArray[np.int64]  # planned orders up to and including each row
    mk: I32  # per row: its market
    lead: I32  # per row: its market's lead days (0 by sea)
    opens: I32  # per row: the day its market opens
    gate: I32  # per row: the day its homologation gate opens
    table: pl.DataFrame
    n_fixed: int  # rows are history and frozen, then planned by the rule, then reserved
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
        floored: npt.NDArray[np.bool_],
        fixed: Fixed,
        placement: Placement,
        mk: I32,
    ) -> Plan:
        cap, start = capacity, scenario.start
        rows = book.table[pl.Series(ix)]
        lead, opens = market_days(scenario, mk)
        gate = gate_days(scenario, mk, rows["model"], rows["variant"])
        day, line = placement.day, placement.line
        has_slot = line >= 0
        no_sailing = placement.sailing == NO_SAILING
        planned = ((group == FROZEN) & ~no_sailing) | ((group == ACTIVE) & has_slot)
        shipped = ship(cap.sea, day, placement.sailing, lead, opens, gate)
        delivery = shipped.delivery
        names = bound_names(scenario, cap)
        history = group == HISTORY
        ahead = floored & has_slot & (day == rel)
        bound = final_bound(
            scenario, cap, mk, placement.bound, shipped, has_slot & ~no_sailing, ahead
        )
        bound = np.where(history, kernel.NONE, bound).astype(np.int32)  # it happened

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
        reason[active_miss & (rel >= cap.days) & floored] = 9
        reason[active_miss & no_line[order_cls]] = 2
        reason[(group == RESERVED) & has_slot] = 3
        reason[(group == RESERVED) & ~has_slot] = 4
        capped = np.array([m.quota is not None for m in scenario.markets], dtype=bool)[mk]
        queued = (group == FROZEN) | (group == ACTIVE)
        reason[queued & no_sailing] = 5
        reason[(group == RESERVED) & no_sailing] = 6
        reason[queued & no_sailing & capped] = 7
        reason[(group == RESERVED) & no_sailing & capped] = 8
        end = scenario.end.isoformat()
        reason_text = [
            no_slot(scenario),
            f"horizon: locked after the horizon ends ({end})",
            NO_LINE,
            "reserved: indicative quote, nothing booked",
            f"reserved: no slot before {end}",
            no_sailing_reason(scenario),
            "reserved: " + no_sailing_reason(scenario),
            no_sailing_reason(scenario, quota=True),
            "reserved: " + no_sailing_reason(scenario, quota=True),
            f"horizon: built no sooner than its market's build_ahead_days allows, after "
            f"the horizon ends ({end})",
        ]
        epoch = np.datetime64(start, "D")
        built = has_slot | planned  # a frozen order without a sailing keeps its slot
        dated = built & ~no_sailing
        build_date = np.where(built, epoch + day, np.datetime64("NaT"))
        delivery_date = np.where(dated, epoch + delivery, np.datetime64("NaT"))
        wait = np.where(dated, delivery - locked_day, -1)
        by_sea = dated & (shipped.sailing >= 0)
        sea = cap.sea
        sail = np.where(by_sea, shipped.sailing, 0)
        departure = sea.sail_day[sail] if len(sea.sail_day) else np.zeros(len(ix), np.int64)
        transit = sea.transit[np.maximum(shipped.lane, 0)] if len(sea.transit) else 0
        ids = sailing_ids(scenario, sea)
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
                "status": pl.select(
                    pl.when(pl.Series(history))
                    .then(rows["status"])
                    .otherwise(_text(["unplanned", "planned"], planned.astype(np.int8)))
                ).to_series(),
                "plant": _text(list(cap.plant_names), line),
                "line": _text(list(cap.line_names), line),
                "build_date": pl.Series(build_date, dtype=pl.Date),
                "delivery_date": pl.Series(delivery_date, dtype=pl.Date),
                "wait_days": _nulls(wait, dated),
                "queue_position": _nulls(queue, planned),
                "model_queue_position": _nulls(model_queue, planned),
                "bound_by": _text(names, bound),
                "reason": _text(reason_text, reason),
                "lane": _text(list(sea.lane_names), np.where(by_sea, shipped.lane, -1)),
                "port_date": _dates(epoch, shipped.port, by_sea),
                "sailing_id": _text(ids, np.where(by_sea, sail, -1)),
                "departure_date": _dates(epoch, departure, by_sea),
                "arrival_date": _dates(epoch, departure + transit, by_sea),
                "overdue": overdue(scenario, rows, group),
            }
        )
        table = table.select(PLAN_COLUMNS)
        n_fixed, n_active = int((group <= FROZEN).sum()), int((group == ACTIVE).sum())
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
            floored,
            fixed,
            placement,
            shipped,
            bound,
            queue,
            mk,
            lead,
            opens,
            gate,
            table,
            n_fixed,
            n_active,
            table["priority"].slice(n_fixed, n_active).to_numpy(),
            table["locked_at"].slice(n_fixed, n_active).dt.epoch("us").to_numpy(),
            names,
        )

    def planned_before(self, active_pos: int) -> int:
        """Planned orders ahead of the `active_pos`-th order planned by the rule."""
        idx = self.n_fixed + active_pos
        return int(self.planned_cum[idx - 1]) if idx > 0 else 0

    # --- views ---

    def to_polars(self) -> pl.DataFrame:
        return self.table

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    @property
    def planned(self) -> pl.DataFrame:
        return self.table.filter(pl.col("status") == "planned")

    @property
    def by_sea(self) -> bool:
        """Whether some market is reached by sea: the plan then has sailings and port yards."""
        return bool(self.capacity.sea.lane_names)

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

    def sailings(self) -> pl.DataFrame:
        """Every sailing in the horizon: its lane, dates, capacity and cars loaded."""
        sea, s = self.capacity.sea, self.scenario
        epoch = np.datetime64(s.start, "D")
        lane = sea.sail_lane
        return pl.DataFrame(
            {
                "sailing_id": sailing_ids(s, sea),
                "lane": [sea.lane_names[i] for i in lane.tolist()],
                "departure_date": pl.Series(epoch + sea.sail_day, dtype=pl.Date),
                "arrival_date": pl.Series(epoch + sea.sail_day + sea.transit[lane], dtype=pl.Date),
                "capacity": sea.sail_cap,
                "loaded": self.state.load,
            },
            schema_overrides={"sailing_id": pl.String, "lane": pl.String},
        )

    def yard(self) -> pl.DataFrame:
        """Per departure port and day: cars at the port waiting for their sailing (from
        the port date through the day before departure)."""
        sea, days = self.capacity.sea, self.capacity.days
        ports = sorted(set(sea.lane_ports))
        t = self.table
        on = (t["status"] == "planned").to_numpy() & (self.shipped.sailing >= 0)
        lane = self.shipped.lane[on]
        port_of = np.array([ports.index(p) for p in sea.lane_ports], dtype=np.int64)
        arrive = np.clip(self.shipped.port[on], 0, days)
        leave = np.clip(sea.sail_day[self.shipped.sailing[on]], 0, days)
        stock = np.zeros((len(ports), days + 1), dtype=np.int64)
        np.add.at(stock, (port_of[lane], arrive), 1)
        np.add.at(stock, (port_of[lane], leave), -1)
        cars = np.cumsum(stock, axis=1)[:, :days]
        return pl.DataFrame(
            {
                "port": np.repeat(np.array(ports, dtype=object), days).tolist(),
                "date": np.tile(
                    np.datetime64(self.capacity.start, "D") + np.arange(days), len(ports)
                ),
                "cars": cars.ravel(),
            },
            schema_overrides={"port": pl.String},
        )

    def lock_days(self) -> I32:
        """Per row: the day its order locked (0 before the start): from then on it waits,
        whatever its lead-in or the plan's own day."""
        start = np.datetime64(self.scenario.start, "D")
        days = self.table["locked_at"].dt.date().to_numpy() - start
        return np.maximum(days.astype(np.int64), 0).astype(np.int32)

    def backlog(self) -> pl.DataFrame:
        """Per day: orders locked by that day and not yet built (unplanned included)."""
        days = self.capacity.days
        keep = self.group != RESERVED
        built = np.where(self.placement.line[keep] >= 0, self.placement.day[keep], days)
        return pl.DataFrame(
            {
                "date": np.datetime64(self.capacity.start, "D") + np.arange(days),
                "backlog": backlog_curve(self.lock_days()[keep], built, days),
            }
        )
