"""A line-day's build order drawn as a strip (the dashboard's Sequence page): one cell per
carrier, coloured by the car's paint, a tick under it for each station it needs (red where
a window of that station is over capacity), empty carriers left blank. Drawn on the
server as SVG: no script, and the page reads the same in any browser."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from promiseline.core.model.orders import options_dict
from promiseline.core.sequencing.day import DaySequence

PER_ROW = 100  # carriers a row
CELL = 8  # px per carrier
CAR_H = 18
TICK_H = 5
GAP = 10
PAINT_OPTION = "paint"  # the option that colours a car, unless its line names another
NAMED = {  # paint names to colours (a name holding one of these words takes its colour)
    "black": "#1f2328",
    "white": "#f2f2ee",
    "silver": "#b8bcc2",
    "grey": "#8a8f98",
    "gray": "#8a8f98",
    "blue": "#2f6fd0",
    "green": "#3a8f5c",
    "orange": "#f07a1a",
    "red": "#c8322f",
    "yellow": "#e8c23a",
    "purple": "#7a4fc0",
}
OTHERS = ("#6d597a", "#b56576", "#355070", "#eaac8b", "#0f766e", "#a16207")
NONE = "#d0d4da"  # a car without the option


@dataclass(frozen=True, slots=True)
class Cell:
    x: int
    y: int
    colour: str
    title: str
    ticks: tuple[tuple[int, bool], ...]  # (y, over capacity) per station the car needs


@dataclass(frozen=True, slots=True)
class Strip:
    """What the template draws: the cells, the empty carriers, the SVG size, the legend."""

    cells: tuple[Cell, ...]
    empty: tuple[tuple[int, int], ...]
    width: int
    height: int
    paints: tuple[tuple[str, str], ...]  # (paint, colour), in order of first use
    stations: tuple[tuple[str, int, int, int], ...]  # name, p, q, windows over capacity
    cars: int
    carriers: int


def colour_of(paint: str | None, used: dict[str, str]) -> str:
    """A paint's colour: by the colour word in its name, else the next unused one."""
    if paint is None:
        return NONE
    if paint not in used:
        word = next((c for w, c in NAMED.items() if w in paint.lower()), None)
        used[paint] = word or OTHERS[len([p for p in used if p not in NAMED]) % len(OTHERS)]
    return used[paint]


def over_capacity(has: np.ndarray, p: int, q: int) -> np.ndarray:
    """Per carrier, whether it lies in a window of `q` carriers holding more than `p`."""
    n = len(has)
    out = np.zeros(n, dtype=bool)
    if n < q:
        return out
    run = np.convolve(has.astype(np.int64), np.ones(q, dtype=np.int64), mode="valid")
    for s in np.flatnonzero(run > p):
        out[s : s + q] = True
    return out


def strip(done: DaySequence) -> Strip:
    """The strip of `done`, its cars coloured by their paint."""
    carriers = int(done.result.sequence.size)
    rules = done.instance.rules
    row_h = CAR_H + TICK_H * len(rules) + GAP
    t = done.table
    pos = t["position"].to_numpy() - 1
    need = {name: t[name].to_numpy() for name in done.stations}
    flagged = {}
    for name, r in zip(done.stations, rules, strict=True):
        has = np.zeros(carriers, dtype=bool)
        has[pos] = need[name]
        flagged[name] = over_capacity(has, r.p, r.q)
    used: dict[str, str] = {}
    cells = []
    painted = t["paint"].to_list() if "paint" in t.columns else None  # the line's own option
    for i, (oid, at) in enumerate(zip(t["order_id"].to_list(), pos.tolist(), strict=True)):
        paint = painted[i] if painted else options_dict(done.options[i] or "{}").get(PAINT_OPTION)
        x, y = (at % PER_ROW) * CELL, (at // PER_ROW) * row_h
        ticks = tuple(
            (y + CAR_H + TICK_H * k, bool(flagged[name][at]))
            for k, name in enumerate(done.stations)
            if need[name][i]
        )
        needs = [name for name in done.stations if need[name][i]]
        title = (
            f"{at + 1}: {oid}"
            + (f", {paint}" if paint else "")
            + (f" ({', '.join(needs)})" if needs else "")
        )
        cells.append(Cell(x, y, colour_of(paint, used), title, ticks))
    taken = set(pos.tolist())
    empty = tuple(
        ((a % PER_ROW) * CELL, (a // PER_ROW) * row_h) for a in range(carriers) if a not in taken
    )
    rows = -(-carriers // PER_ROW)
    return Strip(
        cells=tuple(cells),
        empty=empty,
        width=min(carriers, PER_ROW) * CELL,
        height=max(rows * row_h - GAP, 0),
        paints=tuple(used.items()),
        stations=tuple(
            (name, r.p, r.q, w)
            for name, r, w in zip(done.stations, rules, done.result.score.windows, strict=True)
        ),
        cars=t.height,
        carriers=carriers,
    )
