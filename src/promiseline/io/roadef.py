"""ROADEF 2005 (Renault car sequencing) instances: a directory of four semicolon-separated
files, as the challenge published them:

    ratios.txt                   Ratio;Prio;Ident;       then N/P;0|1;NAME per constraint
    optimization_objectives.txt  rank;objective name;    then 1..3 ranked objectives
    paint_batch_limit.txt        limitation;             then the limit
    vehicles.txt                 Date;SeqRank;Ident;Paint Color;NAME...  one car a line

The cars of the earliest date in vehicles.txt are the previous day's, in the order
built; the others (one later date) are the day to sequence. `read_roadef(DIR)` reads one
instance, or, for a directory of instance directories, each of them by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from promiseline.core.sequencing.roadef import COLOR, HPRC, LPRC, RatioRule, RoadefDay
from promiseline.io.csplib import SequenceFileError

FILES = ("ratios.txt", "optimization_objectives.txt", "paint_batch_limit.txt", "vehicles.txt")
OBJECTIVES = {
    "high_priority_level_and_easy_to_satisfy_ratio_constraints": HPRC,
    "high_priority_level_and_difficult_to_satisfy_ratio_constraints": HPRC,
    "paint_color_batches": COLOR,
    "low_priority_level_ratio_constraints": LPRC,
}
MOST_CARS = 100_000  # a day of a line, generously


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank lines split on ';' (a trailing ';' dropped), with their line numbers."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SequenceFileError(
            f"{path}: missing (a ROADEF instance has {', '.join(FILES)})"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SequenceFileError(f"{path}: cannot read ({e})") from None
    out = []
    for no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(";")]
        if cells and cells[-1] == "":
            cells.pop()
        out.append((no, cells))
    if not out:
        raise SequenceFileError(f"{path}: empty")
    return out


def _header(path: Path, rows: list[tuple[int, list[str]]], want: list[str]) -> None:
    no, head = rows[0]
    if [h.lower() for h in head[: len(want)]] != [w.lower() for w in want]:
        raise SequenceFileError(
            f"{path}, line {no}: expected the header '{';'.join(want)};', got {';'.join(head)!r}"
        )


def _ratios(path: Path) -> list[RatioRule]:
    rows = _rows(path)
    _header(path, rows, ["Ratio", "Prio", "Ident"])
    rules: list[RatioRule] = []
    for no, cells in rows[1:]:
        found = re.fullmatch(r"(\d+)/(\d+)", cells[0]) if cells else None
        if len(cells) != 3 or not found or cells[1] not in ("0", "1") or not cells[2]:
            raise SequenceFileError(
                f"{path}, line {no}: expected 'N/P;PRIO;NAME' (PRIO 0 or 1), "
                f"got {';'.join(cells)!r}"
            )
        n, p = int(found.group(1)), int(found.group(2))
        if p < 1:
            raise SequenceFileError(f"{path}, line {no}: a window of {p} cars; P must be 1 or more")
        if any(r.name == cells[2] for r in rules):
            raise SequenceFileError(f"{path}, line {no}: constraint {cells[2]} twice")
        rules.append(RatioRule(cells[2], n, p, cells[1] == "1"))
    return rules


def _objectives(path: Path) -> tuple[str, ...]:
    rows = _rows(path)
    _header(path, rows, ["rank", "objective name"])
    out: list[str] = []
    for no, cells in rows[1:]:
        if len(cells) != 2 or cells[1] not in OBJECTIVES or cells[0] != str(len(out) + 1):
            raise SequenceFileError(
                f"{path}, line {no}: expected '{len(out) + 1};OBJECTIVE' with OBJECTIVE one of "
                f"{', '.join(OBJECTIVES)}; got {';'.join(cells)!r}"
            )
        if OBJECTIVES[cells[1]] in out:
            raise SequenceFileError(f"{path}, line {no}: {cells[1]} ranked twice")
        out.append(OBJECTIVES[cells[1]])
    if not out:
        raise SequenceFileError(f"{path}: no objective ranked")
    return tuple(out)


def _limit(path: Path) -> int:
    rows = _rows(path)
    _header(path, rows, ["limitation"])
    if len(rows) != 2 or len(rows[1][1]) != 1 or not re.fullmatch(r"\d+", rows[1][1][0]):
        no = rows[1][0] if len(rows) > 1 else rows[0][0]
        raise SequenceFileError(f"{path}, line {no}: expected one line with the limit, a number")
    limit = int(rows[1][1][0])
    if limit < 1:
        raise SequenceFileError(f"{path}, line {rows[1][0]}: a batch limit of {limit} cars")
    return limit


def read_one(folder: str | Path) -> RoadefDay:
    """One ROADEF 2005 instance directory."""
    d = Path(folder)
    rules = _ratios(d / "ratios.txt")
    objectives = _objectives(d / "optimization_objectives.txt")
    limit = _limit(d / "paint_batch_limit.txt")
    path = d / "vehicles.txt"
    rows = _rows(path)
    _header(path, rows, ["Date", "SeqRank", "Ident", "Paint Color"])
    names = rows[0][1][4:]
    by_name = {r.name: r for r in rules}
    unknown = [c for c in names if c not in by_name]
    missing = [r.name for r in rules if r.name not in names]
    if unknown or missing:
        raise SequenceFileError(
            f"{path}, line {rows[0][0]}: the constraint columns must be those of ratios.txt "
            f"({', '.join(by_name)}); unknown {unknown or 'none'}, missing {missing or 'none'}"
        )
    cars = rows[1:]
    if not 1 <= len(cars) <= MOST_CARS:
        raise SequenceFileError(f"{path}: {len(cars):,} cars; an instance holds 1 to {MOST_CARS:,}")
    dates: list[str] = []
    seen: set[str] = set()
    flags = np.zeros((len(cars), len(names)), dtype=bool)
    colors: list[str] = []
    ids: list[str] = []
    for i, (no, cells) in enumerate(cars):
        if len(cells) != 4 + len(names) or any(f not in ("0", "1") for f in cells[4:]):
            raise SequenceFileError(
                f"{path}, line {no}: expected 'DATE;RANK;IDENT;COLOR' and {len(names)} flags "
                f"of 0 or 1, got {';'.join(cells)!r}"
            )
        if not cells[2] or cells[2] in seen:
            raise SequenceFileError(f"{path}, line {no}: car ident {cells[2]!r} empty or twice")
        seen.add(cells[2])
        dates.append(cells[0])
        ids.append(cells[2])
        colors.append(cells[3])
        flags[i] = [f == "1" for f in cells[4:]]
    days = sorted(set(dates), key=dates.index)
    if len(days) > 2 or (len(days) == 2 and dates != sorted(dates, key=days.index)):
        raise SequenceFileError(
            f"{path}: expected the previous day's cars, then the day's (two dates, in that "
            f"order); got dates {days}"
        )
    n0 = dates.count(days[0]) if len(days) == 2 else 0
    if n0 == len(cars):
        raise SequenceFileError(f"{path}: no car of the day to sequence")
    palette = {c: k for k, c in enumerate(dict.fromkeys(colors))}
    code = np.array([palette[c] for c in colors], dtype=np.int64)
    cols = [names.index(r.name) for r in rules]
    return RoadefDay(
        name=d.name,
        ids=tuple(ids[n0:]),
        colors=code[n0:],
        options=flags[n0:][:, cols],
        prev_colors=code[:n0],
        prev_options=flags[:n0][:, cols],
        rules=tuple(rules),
        objectives=objectives,
        batch_limit=limit,
    )


def read_roadef(folder: str | Path) -> list[RoadefDay]:
    """The instance in `folder`, or every instance directory in it (by name)."""
    d = Path(folder)
    if not d.is_dir():
        raise SequenceFileError(f"{d}: not a directory (a ROADEF instance is a directory)")
    if (d / "vehicles.txt").exists():
        return [read_one(d)]
    subs = sorted(s for s in d.iterdir() if (s / "vehicles.txt").is_file())
    if not subs:
        deeper = sorted(x.parent.parent for x in d.glob("*/*/vehicles.txt"))
        hint = f"; there are some in {deeper[0]}" if deeper else ""
        raise SequenceFileError(
            f"{d}: no ROADEF instance (expected {', '.join(FILES)} here or in its "
            f"subdirectories){hint}"
        )
    return [read_one(s) for s in subs]
