"""CSPLib prob001 (car sequencing) files: one or more instances, each

    cars options classes
    p for each option        (the most cars with it in a block)
    q for each option        (the block's size)
    class count flag...      (one line per class)

with comments (`#`) and free text between them; an instance's name is the last
"Problem NAME" comment before it (else the file's name and its number). The classic
100-car instances of CSPLib's data.txt have no p and q lines: they take the capacities
CSPLib states for the whole set, 1/2, 2/3, 1/3, 2/5 and 1/5 (`CLASSIC`), and say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from promiseline.core.sequencing.instance import Instance, Rule
from promiseline.errors import PromiselineError

CLASSIC = ((1, 2), (2, 3), (1, 3), (2, 5), (1, 5))  # p/q of the classic five options
MOST = {"cars": 100_000, "options": 100, "classes": 10_000}  # a day of a line, generously


class SequenceFileError(PromiselineError):
    """A sequencing instance file that cannot be read: names the file and line."""


@dataclass(frozen=True, slots=True)
class Read:
    """An instance read, and what was assumed for it (the capacities it lacked)."""

    instance: Instance
    assumed: str | None = None


def read_csplib(path: str | Path) -> list[Read]:
    """Every instance of a CSPLib prob001 file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SequenceFileError(f"{p}: cannot read ({e})") from None
    rows: list[tuple[int, list[int]]] = []
    names: dict[int, str] = {}
    for no, line in enumerate(text.splitlines(), start=1):
        found = re.match(r"\s*#\s*Problem\s+(\S+)", line, re.IGNORECASE)
        if found:
            names[len(rows)] = found.group(1)
            continue
        bare = line.split("#", 1)[0].split()
        if bare and all(re.fullmatch(r"-?\d+", w) for w in bare):
            rows.append((no, [int(w) for w in bare]))
    out: list[Read] = []
    i = 0
    while i < len(rows):
        no, head = rows[i]
        name = next((names[j] for j in sorted(names, reverse=True) if j <= i), None)
        if len(head) != 3:
            raise SequenceFileError(
                f"{p}, line {no}: expected 'cars options classes' (3 numbers), got {head}"
            )
        n, k, c = head
        for what, value in zip(("cars", "options", "classes"), head, strict=True):
            if not 1 <= value <= MOST[what]:
                raise SequenceFileError(
                    f"{p}, line {no}: {value:,} {what}; an instance holds 1 to {MOST[what]:,}"
                )
        i += 1
        if i + 1 < len(rows) and len(rows[i][1]) == k and len(rows[i + 1][1]) == k:
            ps, qs = rows[i][1], rows[i + 1][1]
            i += 2
            assumed = None
        elif k == len(CLASSIC):
            ps, qs = [a for a, _ in CLASSIC], [b for _, b in CLASSIC]
            assumed = "no p/q lines: CSPLib's classic capacities 1/2, 2/3, 1/3, 2/5, 1/5"
        else:
            raise SequenceFileError(f"{p}, line {no}: no p and q lines for its {k} options")
        counts = np.zeros(c, dtype=np.int64)
        options = np.zeros((c, k), dtype=bool)
        for _ in range(c):
            if i >= len(rows):
                raise SequenceFileError(f"{p}: the instance at line {no} ends before its classes")
            cno, cls = rows[i]
            if len(cls) != k + 2 or not 0 <= cls[0] < c or any(f not in (0, 1) for f in cls[2:]):
                raise SequenceFileError(
                    f"{p}, line {cno}: expected 'class count' and {k} flags of 0 or 1, got {cls}"
                )
            if cls[1] < 0:
                raise SequenceFileError(f"{p}, line {cno}: a class of {cls[1]} cars")
            counts[cls[0]] = cls[1]
            options[cls[0]] = np.array(cls[2:], dtype=bool)
            i += 1
        if int(counts.sum()) != n:
            raise SequenceFileError(
                f"{p}, line {no}: the classes hold {int(counts.sum())} cars, the header says {n}"
            )
        label = name or f"{p.stem}-{len(out) + 1}"
        bad = [o for o in range(k) if not 0 <= ps[o] < qs[o]]
        if bad:
            o = bad[0]
            raise SequenceFileError(
                f"{p}, line {no}: option {o} takes {ps[o]} of {qs[o]} cars; "
                "a station needs 0 <= p < q"
            )
        rules = tuple(Rule(o, ps[o], qs[o]) for o in range(k))
        out.append(Read(Instance(label, counts, options, rules), assumed))
    if not out:
        raise SequenceFileError(f"{p}: no instance found (expected CSPLib prob001's format)")
    return out
