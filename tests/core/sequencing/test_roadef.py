"""ROADEF 2005 days: the count against the tests' own checker and brute force on tiny
random days; the compiled search's own running cost equal to a recount; the paint batch
limit never broken."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.sequencing.roadef import RatioRule, RoadefDay, score
from promiseline.core.sequencing.roadef_search import KINDS, improve, search, sequence_day, start
from tests.conftest import examples
from tests.core.sequencing.roadef_check import WEIGHTS, counts

OBJECTIVES = [("HPRC", "COLOR", "LPRC"), ("COLOR", "HPRC", "LPRC"), ("HPRC", "LPRC", "COLOR")]


@st.composite
def days(draw: st.DrawFn, most: int = 9) -> RoadefDay:
    """A small random day: up to `most` cars, up to 4 of the previous day, 1-3 rules
    (some with P longer than the day), 1-3 colours, a batch limit of 1-4."""
    n = draw(st.integers(1, most))
    n0 = draw(st.integers(0, 4))
    k = draw(st.integers(1, 3))
    rules = tuple(
        RatioRule(f"R{r}", draw(st.integers(0, 2)), draw(st.integers(1, 6)), draw(st.booleans()))
        for r in range(k)
    )
    colours = draw(st.integers(1, 3))
    flags = st.lists(st.booleans(), min_size=k, max_size=k)
    return RoadefDay(
        name="random",
        ids=tuple(f"c{i}" for i in range(n)),
        colors=np.array(draw(st.lists(st.integers(0, colours - 1), min_size=n, max_size=n))),
        options=np.array(draw(st.lists(flags, min_size=n, max_size=n)), dtype=bool).reshape(n, k),
        prev_colors=np.array(
            draw(st.lists(st.integers(0, colours - 1), min_size=n0, max_size=n0)), dtype=np.int64
        ),
        prev_options=np.array(draw(st.lists(flags, min_size=n0, max_size=n0)), dtype=bool).reshape(
            n0, k
        ),
        rules=rules,
        objectives=draw(st.sampled_from(OBJECTIVES)),
        batch_limit=draw(st.integers(1, 4)),
    )


def plain(day: RoadefDay, seq: list[int]) -> dict[str, int]:
    """The tests' checker on the day in `seq` order, and its weighted objective."""

    def car(colours: np.ndarray, options: np.ndarray, i: int) -> tuple[str, dict[str, int]]:
        return str(colours[i]), {r.name: int(options[i, k]) for k, r in enumerate(day.rules)}

    prev = [car(day.prev_colors, day.prev_options, i) for i in range(len(day.prev_colors))]
    out = counts(
        prev,
        [car(day.colors, day.options, i) for i in seq],
        {r.name: (r.n, r.p, r.high) for r in day.rules},
        day.batch_limit,
    )
    out["objective"] = sum(w * out[o] for w, o in zip(WEIGHTS, day.objectives, strict=False))
    return out


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days(), st.randoms(use_true_random=False))
def test_count_is_the_checkers(day: RoadefDay, rnd) -> None:  # type: ignore[no-untyped-def]
    """Every count of a random order equals the tests' own checker's."""
    seq = list(range(day.cars))
    rnd.shuffle(seq)
    s = score(day, np.array(seq))
    want = plain(day, seq)
    assert (s.hprc, s.lprc, s.color, s.batch_violations, s.objective) == (
        want["HPRC"],
        want["LPRC"],
        want["COLOR"],
        want["BATCH"],
        want["objective"],
    )


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days(most=6))
def test_search_against_brute_force(day: RoadefDay) -> None:
    """On days of up to 6 cars the search keeps the batch limit whenever its start does,
    its running cost is the recount, and it never beats brute force's least objective
    among the orders that keep the limit (nor reports a cost it does not have)."""
    first = start(day)
    seq, cost = improve(day, first.copy(), 5_000, 0)
    assert sorted(seq.tolist()) == list(range(day.cars))
    got = plain(day, seq.tolist())
    assert cost == got["objective"] == score(day, seq).objective
    if plain(day, first.tolist())["BATCH"] == 0:
        assert got["BATCH"] == 0
        feasible = [
            plain(day, list(p))["objective"]
            for p in itertools.permutations(range(day.cars))
            if plain(day, list(p))["BATCH"] == 0
        ]
        assert min(feasible) <= cost


def only(kind: int) -> tuple[float, ...]:
    """A mix of moves of one kind only."""
    return tuple(1.0 if k == kind else 0.0 for k in range(len(KINDS)))


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days(most=40), st.integers(0, 2**16))
def test_every_kind_of_move_is_priced_exactly(day: RoadefDay, seed: int) -> None:
    """With every move kept whatever it costs (so a wrong price would add up), each kind
    of move alone leaves a running cost equal to the recount by roadef.score and by the
    tests' checker, and never breaks the batch limit when the start keeps it."""
    first = start(day)
    keeps = plain(day, first.tolist())["BATCH"] == 0
    for kind in range(len(KINDS)):
        seq, cost, _ = search(
            day, first.copy(), 3_000, seed, reach=8, mix=only(kind), accept_all=True
        )
        assert sorted(seq.tolist()) == list(range(day.cars))
        got = plain(day, seq.tolist())
        assert cost == score(day, seq).objective == got["objective"], KINDS[kind]
        if keeps:
            assert got["BATCH"] == 0, KINDS[kind]


def long_day(share: float = 0.66, limit: int = 2) -> RoadefDay:
    """A 300-car day, one colour for `share` of the cars (two in three), three others, a
    batch limit of 2; colour changes rank first."""
    rng = np.random.default_rng(1)
    n = 300
    return RoadefDay(
        name="long",
        ids=tuple(str(i) for i in range(n)),
        colors=np.where(rng.random(n) < share, 0, rng.integers(1, 4, n)).astype(np.int64),
        options=rng.random((n, 3)) < 0.3,
        prev_colors=np.array([0, 0], dtype=np.int64),
        prev_options=np.zeros((2, 3), dtype=bool),
        rules=(
            RatioRule("H", 1, 3, True),
            RatioRule("L1", 2, 5, False),
            RatioRule("L2", 1, 10, False),
        ),
        objectives=("COLOR", "HPRC", "LPRC"),
        batch_limit=limit,
    )


def test_search_keeps_the_batch_limit_on_a_long_day() -> None:
    """On the long day the start keeps the limit, and so does every sequence the search
    keeps."""
    day = long_day()
    r = sequence_day(day, moves=400_000)
    assert r.score.batch_violations == 0
    assert r.score.objective <= score(day, start(day)).objective
    assert plain(day, r.sequence.tolist())["objective"] == r.score.objective


def test_each_kind_of_move_is_made_and_priced_on_a_long_day() -> None:
    """On long days each kind of move alone is kept over 50 times (so the test
    above is not vacuous) with a running cost equal to the recount and the batch limit
    kept; kept only when they do not add cost, moves that keep the colour changes (swaps
    of one colour, reversals inside a batch) lower HPRC where colour changes rank first."""
    for day in (long_day(), long_day(0.25, 5)):  # batches move only on the second
        first = start(day)
        for kind in range(len(KINDS)):
            seq, cost, kept = search(
                day, first.copy(), 20_000, kind, mix=only(kind), accept_all=True
            )
            assert kept[kind] > 50 or (kind == 5 and day.batch_limit == 2), KINDS[kind]
            s = score(day, seq)
            assert cost == s.objective
            assert s.batch_violations == 0
    day = long_day()
    first = start(day)
    for kind in (3, 4):
        seq, cost, kept = search(day, first.copy(), 50_000, 0, mix=only(kind))
        s, s0 = score(day, seq), score(day, first)
        assert s.color == s0.color
        assert s.hprc < s0.hprc
        assert cost == s.objective
