"""Car sequencing: the count of violations, and both solvers against brute force on small
random days; CSPLib instances solved and recounted from the file written."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline import api
from promiseline.core.sequencing import cpsat
from promiseline.core.sequencing.instance import Instance, Rule, score
from promiseline.core.sequencing.search import search
from promiseline.core.sequencing.solve import sequence
from promiseline.errors import InvalidRequestError
from promiseline.io.csplib import SequenceFileError, read_csplib
from promiseline.io.outputs import write_sequences
from tests.conftest import examples

ROOT = Path(__file__).resolve().parents[3]
CSPLIB = ROOT / "benchmarks" / "data" / "csplib" / "prob001-data.txt"
EXAMPLE = """10 5 6
1 2 1 2 1
2 3 3 5 5
0 1 1 0 1 1 0
1 1 0 0 0 1 0
2 2 0 1 0 0 1
3 2 0 1 0 1 0
4 2 1 0 1 0 0
5 2 1 1 0 0 0
"""


def recount(
    path: Path, instances: dict[str, tuple[list[list[int]], list[tuple[int, int, int]]]]
) -> dict[str, int]:
    """Violations per instance from sequence.csv, in plain Python (no code of the solver):
    per rule, every run of q consecutive cars holding more than p with the option."""
    rows = pl.read_csv(path).sort("instance", "position")
    out = {}
    for name, part in rows.group_by("instance"):
        options, rules = instances[str(name[0])]
        seq = part["class"].to_list()
        out[str(name[0])] = sum(
            1
            for option, p, q in rules
            for s in range(len(seq) - q + 1)
            if sum(options[c][option] for c in seq[s : s + q]) > p
        )
    return out


def plain(inst: Instance) -> tuple[list[list[int]], list[tuple[int, int, int]]]:
    return inst.options.astype(int).tolist(), [(r.option, r.p, r.q) for r in inst.rules]


def brute(inst: Instance) -> int:
    """The fewest violations over every distinct order of the cars."""
    cars = np.repeat(np.arange(len(inst.counts)), inst.counts)
    return min(score(inst, np.array(s)).total for s in set(itertools.permutations(cars)))


@st.composite
def days(draw: st.DrawFn, most: int = 8) -> Instance:
    """A few classes, up to `most` cars, two or three options with tight rules."""
    k = draw(st.integers(1, 4))
    counts = np.array(draw(st.lists(st.integers(1, 3), min_size=k, max_size=k)), dtype=np.int64)
    while counts.sum() > most:
        counts[np.argmax(counts)] -= 1
    counts = counts[counts > 0]
    n_opt = draw(st.integers(1, 3))
    options = np.array(
        draw(
            st.lists(
                st.lists(st.booleans(), min_size=n_opt, max_size=n_opt),
                min_size=len(counts),
                max_size=len(counts),
            )
        ),
        dtype=bool,
    )
    rules = []
    for o in range(n_opt):
        q = draw(st.integers(2, 4))
        rules.append(Rule(o, draw(st.integers(0, q - 1)), q))
    return Instance("random", counts, options, tuple(rules))


def test_the_count_is_windows_over_capacity() -> None:
    """Three cars with the option in a row under 1/2: two windows over, two cars over."""
    inst = Instance("hand", np.array([3, 2]), np.array([[True], [False]]), (Rule(0, 1, 2),))
    s = score(inst, np.array([0, 0, 0, 1, 1]))
    assert (s.windows, s.excess, s.total) == ((2,), (2,), 2)
    assert score(inst, np.array([0, 1, 0, 1, 0])).total == 0
    with pytest.raises(ValueError, match="every car of the instance once"):
        score(inst, np.array([0, 0, 1, 1, 1]))


def test_the_csplib_example_has_a_sequence_without_violations(tmp_path: Path) -> None:
    """Dincbas et al.'s example (the CSPLib page): the published sequence scores 0, and so
    does ours."""
    f = tmp_path / "ex.txt"
    f.write_text(EXAMPLE)
    (read,) = read_csplib(f)
    assert read.assumed is None
    assert score(read.instance, np.array([0, 1, 5, 2, 4, 3, 3, 4, 2, 5])).total == 0
    assert sequence(read.instance, seconds=10).score.total == 0


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_cp_sat_and_local_search_find_the_least_count(inst: Instance) -> None:
    """On small random days both solvers reach the least count brute force finds (CP-SAT
    proving it), and each sequence's count is its score."""
    least = brute(inst)
    proved = cpsat.solve(inst, seconds=20)
    assert proved is not None
    assert proved.optimal
    assert proved.score.total == least
    found = min(search(inst, moves=20_000, seed=s, noise=0.01)[1] for s in range(5))
    assert found == least
    seq, cost = search(inst, moves=2_000, seed=1)
    assert score(inst, seq).total == cost


def test_classic_instances_take_csplibs_capacities() -> None:
    """The classic 100-car instances have no p/q lines: the stated ones apply, and say so;
    the 200-car ones carry their own."""
    reads = read_csplib(CSPLIB)
    names = [r.instance.name for r in reads]
    assert len(reads) == 79
    assert names[:3] == ["4/72", "6/76", "10/93"]
    assert "no p/q lines" in (reads[0].assumed or "")
    assert [(r.p, r.q) for r in reads[0].instance.rules] == [(1, 2), (2, 3), (1, 3), (2, 5), (1, 5)]
    assert reads[9].instance.name == "60-01"
    assert reads[9].assumed is None
    assert reads[9].instance.cars == 200


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no instance found"),
        ("10 5\n", "line 1: expected 'cars options classes'"),
        (
            "4 2 2\n1 1\n2 2\n0 2 1 0\n1 1 0 1\n",
            "line 1: the classes hold 3 cars, the header says 4",
        ),
        ("2 2 1\n1 1\n2 2\n0 2 1 7\n", "line 4: expected 'class count' and 2 flags of 0 or 1"),
        ("2 3 1\n0 2 1 0 1\n", "line 1: no p and q lines for its 3 options"),
        ("10000000 5 2\n", "line 1: 10,000,000 cars; an instance holds 1 to 100,000"),
        ("2 1 2\n1\n2\n0 3 1\n1 -1 0\n", "line 5: a class of -1 cars"),
        ("2 1 1\n3\n2\n0 2 1\n", "option 0 takes 3 of 2 cars; a station needs 0 <= p < q"),
    ],
)
def test_a_bad_file_names_its_line(tmp_path: Path, text: str, says: str) -> None:
    f = tmp_path / "bad.txt"
    f.write_text(text)
    with pytest.raises(SequenceFileError, match=says):
        read_csplib(f)


def test_the_file_written_recounts_to_the_summary(tmp_path: Path) -> None:
    """Sequenced and written: a recount from sequence.csv alone (no solver code) gives
    every violation count summary.json reports; a 200-car instance without violations."""
    f = tmp_path / "two.txt"
    lines = CSPLIB.read_text().splitlines()
    start = next(i for i, x in enumerate(lines) if "Problem 60-01" in x) - 1
    f.write_text(EXAMPLE + "\n".join(lines[start : start + 30]) + "\n")
    done = api.sequence_csplib(f, seconds=20)
    assert [s.score.total for _, s in done] == [0, 0]
    paths = write_sequences(done, tmp_path / "out")
    summary = json.loads(paths["summary"].read_text())
    want = {i["instance"]: i["violations"] for i in summary["instances"]}
    assert recount(paths["sequence"], {r.instance.name: plain(r.instance) for r, _ in done}) == want
    assert summary["instances"][1]["instance"] == "60-01"


def test_a_time_limit_must_be_positive() -> None:
    """`--seconds -1` is one clear error, not the solver's."""
    inst = Instance("t", np.array([2, 2]), np.array([[True], [False]]), (Rule(0, 1, 2),))
    with pytest.raises(InvalidRequestError, match="a time limit must be above 0 s, got -1"):
        sequence(inst, seconds=-1)
