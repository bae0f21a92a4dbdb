"""An independent ROADEF 2005 checker for the tests: reads an instance's files and a
sequence of car idents with plain Python, and counts as the challenge's subject says
(section 1.2.3; the same count reproduces Renault's checker on six file orders, see
tests/io/test_roadef.py). No code of promiseline is used."""

from __future__ import annotations

from pathlib import Path

WEIGHTS = (1_000_000, 1_000, 1)
NAMES = {
    "high_priority_level_and_easy_to_satisfy_ratio_constraints": "HPRC",
    "high_priority_level_and_difficult_to_satisfy_ratio_constraints": "HPRC",
    "paint_color_batches": "COLOR",
    "low_priority_level_ratio_constraints": "LPRC",
}


def _lines(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8-sig")
    return [[c.strip() for c in ln.split(";")] for ln in text.splitlines() if ln.strip()][1:]


def counts(
    prev: list[tuple[str, dict[str, int]]],
    day: list[tuple[str, dict[str, int]]],
    rules: dict[str, tuple[int, int, bool]],
    limit: int,
) -> dict[str, int]:
    """HPRC, LPRC, COLOR and runs over the limit of `day` after `prev` (cars as (colour,
    {rule: 0|1})): every window of P cars that holds a car of the day, starting no
    earlier than the first car, cut at the day's end."""
    line = prev + day
    n0 = len(prev)
    out = {"HPRC": 0, "LPRC": 0, "COLOR": 0, "BATCH": 0}
    for name, (n, p, high) in rules.items():
        for s in range(len(line)):
            if s + p - 1 < n0:  # the window holds no car of the day
                continue
            k = sum(car[1][name] for car in line[s : s + p])
            out["HPRC" if high else "LPRC"] += max(0, k - n)
    for i in range(n0, len(line)):
        if i > 0 and line[i][0] != line[i - 1][0]:
            out["COLOR"] += 1
    run = 0
    for i in range(len(line)):
        run = run + 1 if i > 0 and line[i][0] == line[i - 1][0] else 1
        if i >= n0 and run == limit + 1:
            out["BATCH"] += 1
    return out


def check(folder: Path, idents: list[str]) -> dict[str, int]:
    """The counts and the weighted objective of the day's cars in the order `idents`."""
    rules = {
        r[2]: (int(r[0].split("/")[0]), int(r[0].split("/")[1]), r[1] == "1")
        for r in _lines(folder / "ratios.txt")
    }
    ranks = [NAMES[r[1]] for r in _lines(folder / "optimization_objectives.txt")]
    limit = int(_lines(folder / "paint_batch_limit.txt")[0][0])
    text = (folder / "vehicles.txt").read_text(encoding="utf-8-sig").splitlines()
    head = [c.strip() for c in text[0].split(";")]
    rows = [[c.strip() for c in ln.split(";")] for ln in text[1:] if ln.strip()]
    first = rows[0][0]
    cars = {
        r[2]: (r[0], (r[3], {h: int(r[k]) for k, h in enumerate(head) if k >= 4 and h}))
        for r in rows
    }
    prev = [cars[r[2]][1] for r in rows if r[0] == first]
    day_ids = {r[2] for r in rows if r[0] != first}
    assert sorted(idents) == sorted(day_ids), "every car of the day once"
    out = counts(prev, [cars[i][1] for i in idents], rules, limit)
    out["objective"] = sum(w * out[o] for w, o in zip(WEIGHTS, ranks, strict=False))
    return out
