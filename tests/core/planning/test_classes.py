"""Order classes (classes.py): one class per distinct lines/parts/mix limits, as CSR arrays."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import canonical_options, options_dict
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.capacity import capacity, matches
from promiseline.core.planning.classes import Config, build_classes, with_capacity
from tests.conftest import examples
from tests.strategies import OPTION_SETS, options_of, scenarios

SETTINGS = settings(
    max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def canonical(text: str) -> str:
    out = canonical_options(options_of(text))
    assert out is not None
    return out


@st.composite
def scenario_and_configs(draw: st.DrawFn) -> tuple[Scenario, list[Config]]:
    s = draw(scenarios())
    every = [
        (p.model, v.name, canonical(o)) for p in s.products for v in p.variants for o in OPTION_SETS
    ]
    return s, draw(st.lists(st.sampled_from(every), min_size=1, max_size=12, unique=True))


def test_options_that_no_limit_counts_share_a_class(tiny: Scenario) -> None:
    """Options split a class only when a mix limit counts them; variants always split."""
    tiny = tiny.replace(
        mix_limits=[
            {"name": "roof", "line": "l1", "match": {"options": {"roof": "pan"}}, "max_share": 0.5}
        ]
    )
    configs: list[Config] = [
        ("A", "S", "{}"),
        ("A", "S", '{"paint":"green"}'),  # no limit counts paint: same class as plain S
        ("A", "S", '{"roof":"pan"}'),  # the roof limit counts it: a class of its own
        ("A", "M", "{}"),
        ("A", "S", '{"paint":"green","roof":"pan"}'),
    ]
    classes, of = build_classes(tiny, capacity(tiny), configs)
    assert of.tolist() == [0, 0, 1, 2, 1]
    assert classes.models == ("A", "A", "A")
    assert classes.mix_on.tolist() == [[False], [True], [False]]
    m = classes.part_ptr[2]
    assert classes.parts[m:].tolist() == [0, 1]  # pack before lidar: scenario, not name, order


@SETTINGS
@given(sc=scenario_and_configs())
def test_same_lines_parts_and_limits_same_class(sc: tuple[Scenario, list[Config]]) -> None:
    """Two configurations share a class exactly when model, variant and counting mix
    limits agree; a class's arrays name its model's lines, its variant's parts and limits."""
    s, configs = sc
    cap = capacity(s)
    classes, of = build_classes(s, cap, configs)

    def signature(c: Config) -> tuple[str, str, tuple[int, ...]]:
        model, variant, opts = c
        counted = tuple(
            m
            for m, inst in enumerate(cap.mixes)
            if model in cap.line_models[inst.line]
            and matches(inst.match, model, variant, options_dict(opts))
        )
        return model, variant, counted

    for a in range(len(configs)):
        for b in range(len(configs)):
            same = signature(configs[a]) == signature(configs[b])
            assert (of[a] == of[b]) == same
    assert sorted(set(of.tolist())) == list(range(len(classes.models)))
    for c, k in zip(configs, of, strict=True):
        model, _, counted = signature(c)
        assert classes.models[k] == model
        assert np.flatnonzero(classes.mix_on[k]).tolist() == list(counted)


@SETTINGS
@given(sc=scenario_and_configs())
def test_csr_arrays_are_consistent(sc: tuple[Scenario, list[Config]]) -> None:
    """Pointers start at 0, never fall and end at their arrays' length; each class lists
    its model's lines in scenario order, its variant's parts and quantities, and the
    limits of each line that count it."""
    s, configs = sc
    cap = capacity(s)
    classes, of = build_classes(s, cap, configs)
    n = len(classes.models)
    for ptr, arr, size in (
        (classes.line_ptr, classes.lines, n + 1),
        (classes.part_ptr, classes.parts, n + 1),
        (classes.mix_ptr, classes.mixes, len(classes.lines) + 1),
    ):
        assert len(ptr) == size
        assert ptr[0] == 0
        assert (np.diff(ptr) >= 0).all()
        assert ptr[-1] == len(arr)
    assert len(classes.qty) == len(classes.parts)
    assert classes.max_parts == max(
        len(next(v for v in s.product(m).variants if v.name == var).parts) for m, var, _ in configs
    )
    for c, k in zip(configs, of, strict=True):
        model, variant, _ = c
        entries = range(classes.line_ptr[k], classes.line_ptr[k + 1])
        want_lines = [i for i, (_, ln) in enumerate(s.lines) if model in ln.models]
        assert classes.lines[entries.start : entries.stop].tolist() == want_lines
        for e in entries:
            limits = classes.mixes[classes.mix_ptr[e] : classes.mix_ptr[e + 1]].tolist()
            on_line = [m for m, inst in enumerate(cap.mixes) if inst.line == classes.lines[e]]
            assert limits == [m for m in on_line if classes.mix_on[k, m]]
        need = next(v for v in s.product(model).variants if v.name == variant).parts
        p0, p1 = classes.part_ptr[k], classes.part_ptr[k + 1]
        names = [cap.part_names[p] for p in classes.parts[p0:p1]]
        assert names == [p.name for p in s.parts if p.name in need]  # scenario order
        assert classes.qty[p0:p1].tolist() == [need[x] for x in names]
        assert classes.qty_dense[k].tolist() == [need.get(x, 0) for x in cap.part_names]


@SETTINGS
@given(sc=scenario_and_configs())
def test_day_flags_match_a_plain_scan(sc: tuple[Scenario, list[Config]]) -> None:
    """has_slots: some line of the class has slots that day; prev_rel[d]: the latest day
    before d on which one of its lines had slots or was shut (-1 if none)."""
    s, configs = sc
    cap = capacity(s)
    classes, _ = build_classes(s, cap, configs)
    for k in range(len(classes.models)):
        mine = classes.lines[classes.line_ptr[k] : classes.line_ptr[k + 1]].tolist()
        relevant = -1
        assert classes.prev_rel[k, 0] == -1
        for d in range(cap.days):
            slotted = any(cap.slots[ln, d] > 0 for ln in mine)
            assert classes.has_slots[k, d] == slotted
            if slotted or any(cap.shutdown[ln, d] for ln in mine):
                relevant = d
            assert classes.prev_rel[k, d + 1] == relevant


def test_with_capacity_changes_only_the_day_flags(tiny: Scenario) -> None:
    """Other capacity (a Monte Carlo future) redoes the day flags and keeps the rest."""
    cap = capacity(tiny)
    configs: list[Config] = [("A", "S", "{}"), ("A", "M", "{}")]
    classes, _ = build_classes(tiny, cap, configs)
    idle = capacity(tiny, uptime=np.zeros_like(cap.vehicles))
    other = with_capacity(classes, idle)
    assert not other.has_slots.any()
    assert (other.prev_rel == build_classes(tiny, idle, configs)[0].prev_rel).all()
    assert classes.has_slots.any()  # the original is left as it was
    for name in ("line_ptr", "lines", "mix_ptr", "mixes", "part_ptr", "parts", "qty"):
        assert getattr(other, name) is getattr(classes, name)
