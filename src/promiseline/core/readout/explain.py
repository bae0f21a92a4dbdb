"""Explain: why an order got its date, and how many orders ahead of it use the same limit.

`bound_by` is decided at planning time on the order's *blocked day*: the latest day
before its build day on which it could have been built but for something (a day when
none of its lines works at all does not count). See README, "Why is my order late?".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from promiseline.core.model.orders import HISTORY
from promiseline.core.planning.plan import FROZEN, RESERVED, Plan, sailing_ids
from promiseline.errors import UnknownOrderError


@dataclass(frozen=True, slots=True)
class Explanation:
    order_id: str
    status: str
    queue_position: int | None
    model_queue_position: int | None
    plant: str | None
    line: str | None
    earliest_day: dt.date  # first day it may be built (locked_at's date or the start)
    build_date: dt.date | None
    delivery_date: dt.date | None
    wait_days: int | None
    bound_by: str
    blocked_day: dt.date | None  # the day the constraint bound
    ahead_same_constraint: int | None  # planned orders ahead that use the same constraint
    detail: str

    def to_dict(self) -> dict[str, object]:
        d = dataclasses.asdict(self)
        return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in d.items()}

    def text(self) -> str:
        """A few sentences for customer service."""
        if self.build_date is None:
            when = "has no build date"
        else:
            when = f"builds on {self.build_date} and is delivered on {self.delivery_date}"
        head = f"Order {self.order_id} {when}"
        if self.line:
            head += f" (line {self.line}, plant {self.plant})"
        pos = (
            f"It is number {self.queue_position:,} in the queue "
            f"({self.model_queue_position:,} for its model)."
            if self.queue_position
            else "It holds no place in the queue."
        )
        return f"{head}. {pos} {self.detail}"


def _ahead(plan: Plan, i: int, used: np.ndarray) -> int:
    """Planned orders before plan row i for which `used` holds."""
    planned = (plan.placement.line[:i] >= 0) & (plan.group[:i] != RESERVED)
    return int((planned & used[:i]).sum())


def _loaded_ahead(plan: Plan, i: int) -> npt.NDArray[np.bool_]:
    """Plan rows whose sailing was loaded when row i was placed: the rows before it (every
    booked row for a reserved one, quoted against the final state)."""
    booked: npt.NDArray[np.bool_] = (plan.group != RESERVED) & (plan.shipped.sailing >= 0)
    if plan.group[i] != RESERVED:
        booked[i:] = False
    return booked


def _sailing(plan: Plan, i: int) -> tuple[int, str]:
    """Why an export order did not get the first sailing of its lane from its port date:
    that sailing was full, or its month had reached the market's quota. Returns the
    orders ahead that used it up, and the sentence."""
    cap, s, sea = plan.capacity, plan.scenario, plan.capacity.sea
    lane, port, got = (
        int(plan.shipped.lane[i]),
        int(plan.shipped.port[i]),
        int(plan.shipped.sailing[i]),
    )
    wanted = int(sea.first_on_or_after(np.array([lane], np.int64), np.array([port], np.int64))[0])
    ids = sailing_ids(s, sea)
    on = _loaded_ahead(plan, i)
    sailing = plan.shipped.sailing
    load = int((on & (sailing == wanted)).sum())
    size = int(sea.sail_cap[wanted])
    head = (
        f"It reaches port on {cap.date(port)} and wanted sailing {ids[wanted]}, the first "
        f"of lane {sea.lane_names[lane]} departing on or after that day, but "
    )
    tail = f"; it sails on {ids[got]}."
    if load >= size:
        return (
            load,
            head + f"it was full ({load:,} of {size:,} places taken by orders ahead)" + tail,
        )
    mk = int(plan.mk[i])
    month = int(sea.sail_month[wanted])
    gone = int((on & (plan.mk == mk) & (sea.sail_month[np.maximum(sailing, 0)] == month)).sum())
    when = cap.date(int(sea.sail_day[wanted])).strftime("%Y-%m")
    quota = int(sea.quota[mk, month])
    return gone, head + (
        f"market {s.markets[mk].name} had reached its quota for {when} "
        f"({gone:,} of {quota:,} departures)"
    ) + tail


def _no_sailing(plan: Plan, i: int) -> str:
    """An export order for which no sailing with room departs in the horizon."""
    s, sea = plan.scenario, plan.capacity.sea
    mk = int(plan.mk[i])
    lanes = [
        sea.lane_names[ln]
        for ln in range(int(sea.market_lane_ptr[mk]), int(sea.market_lane_ptr[mk + 1]))
    ]
    quota = s.markets[mk].quota is not None
    room = f"with room under market {s.markets[mk].name}'s monthly quota" if quota else "with room"
    text = (
        f"No sailing {room} on its lanes ({', '.join(lanes)}) departs before "
        f"{s.end.isoformat()}, so it is not planned"
    )
    line = int(plan.placement.line[i])
    if plan.group[i] == FROZEN and line >= 0:
        day = plan.capacity.date(int(plan.placement.day[i]))
        name = plan.capacity.line_names[line]
        return text + f"; being frozen, it keeps its slot on line {name} on {day}."
    if plan.group[i] == RESERVED:
        return text + "; a reserved order books nothing."
    return text + " and takes no slot, part or mix room."


def explain(plan: Plan, order_id: str) -> Explanation:
    """Why this order got its date."""
    hits = np.flatnonzero((plan.table["order_id"] == order_id).to_numpy())
    if len(hits) == 0:
        raise UnknownOrderError(
            f"order {order_id!r} is not in the plan (it may be cancelled, built or rejected)"
        )
    i = int(hits[0])
    row = plan.table.row(i, named=True)
    cap, s = plan.capacity, plan.scenario
    k = int(plan.order_cls[i])
    blocked = int(plan.placement.blocked[i])
    bound: str = row["bound_by"] or ""
    kind, _, name = bound.partition(":")
    lines = plan.placement.line
    ahead: int | None = None
    if (row["reason"] or "").removeprefix("reserved: ").startswith("no sailing"):
        detail = _no_sailing(plan, i)
    elif kind == "line":
        ln = cap.line_names.index(name)
        ahead = _ahead(plan, i, lines == ln)
        detail = (
            f"Line {name} was fully booked on {cap.date(blocked)}; "
            f"{ahead:,} orders ahead of it are built on that line."
        )
    elif kind == "part":
        p = cap.part_names.index(name)
        ahead = _ahead(plan, i, plan.classes.qty_dense[plan.order_cls, p] > 0)
        detail = (
            f"Not enough {name} was left to promise from {cap.date(blocked)} on; "
            f"{ahead:,} orders ahead of it take {name}."
        )
    elif kind == "mix":
        named = [m for m, inst in enumerate(cap.mixes) if inst.name == name]
        counted = np.zeros(len(lines), dtype=bool)
        for m in named:
            counted |= plan.classes.mix_on[plan.order_cls, m] & (lines == cap.mixes[m].line)
        ahead = _ahead(plan, i, counted)
        detail = (
            f"Mix limit {name} was full on {cap.date(blocked)}; "
            f"{ahead:,} orders ahead of it count against that limit."
        )
    elif kind == "shutdown":
        date = cap.date(blocked)
        c = plan.classes
        mine = {int(x) for x in c.lines[c.line_ptr[k] : c.line_ptr[k + 1]]}
        own = [ln for j, (_, ln) in enumerate(s.lines) if j in mine]
        stops = {
            st.name
            for st in s.calendar.shutdowns + tuple(x for ln in own for x in ln.shutdowns)
            if st.from_ <= date <= st.to
        }
        detail = f"A shutdown ({', '.join(sorted(stops))}) stopped its lines on {date}."
    elif kind == "market":
        opens = next(m.opens for m in s.markets if m.name == name)
        detail = f"Market {name} opens on {opens}; nothing is delivered there before."
    elif kind == "gate":
        gate = next(m.gate(row["model"], row["variant"]) for m in s.markets if m.name == name)
        detail = (
            f"Homologation for {row['model']} in {name} opens on {gate}; "
            "nothing is delivered there before."
        )
    elif kind == "sailing":
        ahead, detail = _sailing(plan, i)
    elif kind == "ahead":
        mkt = next(m for m in s.markets if m.name == name)
        n = mkt.build_ahead_days or 0
        fastest = min(ln.inland_days + ln.transit_days + ln.last_mile_days for ln in mkt.lanes)
        floor = cap.date(int(plan.rel[i]))
        detail = (
            f"Export to {name} is built no sooner than needed (build_ahead_days: {n}): it "
            f"can be delivered from {floor + dt.timedelta(days=fastest + n)} (its gate or the "
            f"market's opening), the fastest lane takes {fastest} days, so it is built from "
            f"{floor} on and leaves the line free for others before."
        )
    elif row["status"] == "planned":
        detail = "It is built on the first day it could be; nothing held it back."
    elif row["status"] in HISTORY:
        detail = (
            f"It was built on {row['build_date']} on line {row['line']}: it is {row['status']}."
        )
    else:
        detail = f"It is not planned: {row['reason']}."
    if row["status"] != "planned" and kind and not detail.startswith("No sailing"):
        detail += f" Not planned: {row['reason']}."
    return Explanation(
        order_id=order_id,
        status=row["status"],
        queue_position=row["queue_position"],
        model_queue_position=row["model_queue_position"],
        plant=row["plant"],
        line=row["line"],
        earliest_day=cap.date(int(plan.rel[i])),
        build_date=row["build_date"],
        delivery_date=row["delivery_date"],
        wait_days=row["wait_days"],
        bound_by=bound,
        blocked_day=cap.date(blocked) if blocked >= 0 else None,
        ahead_same_constraint=ahead,
        detail=detail,
    )
