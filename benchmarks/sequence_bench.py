"""Car sequencing on CSPLib prob001 (benchmarks/data/csplib): how many windows over
capacity, how fast, against the best-known results; and ROADEF 2005's set A
(benchmarks/data/roadef2005) under the challenge's objective.

    python benchmarks/sequence_bench.py [--seconds 60] [--set classic|200|gagne|roadef|demo|all]

- classic: the nine 100-car instances (CSPLib's capacities; best known from CSPLib's
  results page: 0 for 4/72, 16/81, 41/66, 26/82; 6, 3, 2, 2, 2 for 6/76, 10/93, 19/71,
  21/90, 36/92), each for `--seconds` unless solved;
- 200: the 70 satisfiable 200-car instances: median and largest time to none over capacity;
- gagne: Gagné's 30 instances of 200-400 cars, the count found in `--seconds`;
- roadef: ROADEF 2005's 16 set-A days, each for `--seconds`: the weighted objective
  (1,000,000 / 1,000 / 1 by the instance's ranks) found, each count, the runs over the
  paint batch limit (must be none), beside the file order's objective (no best-known
  values could be read here: see benchmarks/data/roadef2005/README.md).
- demo: the demo's plan: its busiest line-day sequenced (target under 2 s) and every
  line-day with stations, as `plan --sequence` does (target under a minute), the
  search compiled first.
`all` runs the three CSPLib sets, not roadef or demo. Each count is recounted from the sequence
by the score function.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_bench import cpu_model
from promiseline.core.sequencing import roadef
from promiseline.core.sequencing.instance import score
from promiseline.core.sequencing.roadef_search import sequence_day
from promiseline.core.sequencing.solve import sequence
from promiseline.io.csplib import read_csplib
from promiseline.io.roadef import read_roadef

DATA = Path(__file__).resolve().parent / "data" / "csplib"
ROADEF = Path(__file__).resolve().parent / "data" / "roadef2005" / "set_A"
BEST = {
    "4/72": 0,
    "6/76": 6,
    "10/93": 3,
    "16/81": 0,
    "19/71": 2,
    "21/90": 2,
    "36/92": 2,
    "41/66": 0,
    "26/82": 0,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--set", choices=("classic", "200", "gagne", "roadef", "demo", "all"), default="all"
    )
    args = ap.parse_args()
    print(f"machine: {cpu_model()}; {args.seconds:.0f} s per instance at most")
    if args.set == "roadef":
        bench_roadef(args.seconds)
        return
    if args.set == "demo":
        bench_demo()
        return
    reads = read_csplib(DATA / "prob001-data.txt")
    sequence(reads[0].instance, seconds=0.01)  # compile the search once
    if args.set in ("classic", "all"):
        print("| instance | best known | found | seconds |\n| --- | ---: | ---: | ---: |")
        for r in reads[:9]:
            s = sequence(r.instance, seconds=args.seconds)
            assert score(r.instance, s.sequence).total == s.score.total
            name = r.instance.name
            print(f"| {name} | {BEST[name]} | {s.score.total} | {s.seconds:.1f} |", flush=True)
    if args.set in ("200", "all"):
        times, left = [], []
        for r in reads[9:]:
            s = sequence(r.instance, seconds=args.seconds)
            times.append(s.seconds)
            if s.score.total:
                left.append((r.instance.name, s.score.total))
        print(
            f"200-car set: {len(times) - len(left)} of {len(times)} with no violation; "
            f"median {statistics.median(times):.2f} s, largest {max(times):.2f} s; "
            f"left over: {left or 'none'}"
        )
    if args.set in ("gagne", "all"):
        print("| instance | cars | found | seconds |\n| --- | ---: | ---: | ---: |")
        for f in sorted((DATA / "gagne").glob("pb_*.txt")):
            (r,) = read_csplib(f)
            s = sequence(r.instance, seconds=args.seconds)
            print(
                f"| {f.stem} | {r.instance.cars} | {s.score.total} | {s.seconds:.1f} |", flush=True
            )


def bench_roadef(seconds: float) -> None:
    """Each set-A day for `seconds`, one after the other."""
    days = read_roadef(ROADEF)
    sequence_day(days[0], moves=1_000)  # compile the search once
    print(
        "| instance | cars | ranks | file order | found | HPRC | colour changes | LPRC "
        "| batches over | seconds |\n| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |"
    )
    for d in days:
        r = sequence_day(d, seconds=seconds)
        s = roadef.score(d, r.sequence)
        assert s == r.score
        assert s.batch_violations == 0
        given = roadef.score(d, roadef.file_order(d)).objective
        print(
            f"| {d.name} | {d.cars} | {' > '.join(d.objectives)} | {given:,} "
            f"| {s.objective:,} | {s.hprc} | {s.color} | {s.lprc} | {s.batch_violations} "
            f"| {r.seconds:.1f} |",
            flush=True,
        )


def bench_demo() -> None:
    """The demo's busiest line-day and its whole plan, sequenced (search compiled first)."""
    import time

    import polars as pl

    from promiseline import api
    from promiseline.demo import demo_orders, demo_scenario

    plan = api.plan(demo_scenario(), demo_orders())
    lines = [ln.name for _, ln in plan.scenario.lines if ln.stations]
    busiest = (
        plan.planned.filter(pl.col("line").is_in(lines))
        .group_by("line", "build_date")
        .len()
        .sort("len", "build_date", descending=[True, False])
        .row(0)
    )
    api.sequence_day(plan, busiest[0], busiest[1])  # compile
    t = time.perf_counter()
    day = api.sequence_day(plan, busiest[0], busiest[1])
    print(
        f"busiest line-day {busiest[0]} {busiest[1]}: {busiest[2]:,} cars, "
        f"{day.result.score.total} windows over capacity, {time.perf_counter() - t:.3f} s"
    )
    t = time.perf_counter()
    done = api.plan_sequenced(plan)
    d = done.sequences.days
    print(
        f"plan --sequence: {d.height:,} line-days, {int(d['cars'].sum()):,} cars, "
        f"{int(d['violations'].sum())} windows over capacity, "
        f"{int(d['empty_carriers'].sum())} empty carriers, {done.rounds} plan(s), "
        f"{time.perf_counter() - t:.1f} s"
    )


if __name__ == "__main__":
    main()
