"""Order classes: orders that need the same lines, parts and mix limits.

The compiled kernel sees a class as flat arrays (CSR): its lines in scenario order, the
mix limits each of those lines applies to it, and the parts it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from promiseline.core.arrays import I32, I64
from promiseline.core.model.orders import options_dict
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.capacity import Capacity, matches

Config = tuple[str, str, str]  # model, variant, canonical options JSON


@dataclass(frozen=True, slots=True)
class Classes:
    """Flat arrays describing each class to the kernel."""

    models: tuple[str, ...]
    line_ptr: I32
    lines: I32
    mix_ptr: I32  # per line entry
    mixes: I32
    part_ptr: I32
    parts: I32
    qty: I64
    qty_dense: I64  # [class, part]
    mix_on: npt.NDArray[np.bool_]  # [class, mix instance]
    prev_rel: I32  # [class, day + 1]: latest day before it a line could work or was shut
    has_slots: npt.NDArray[np.bool_]  # [class, day]: some line of the class has slots

    max_parts: int = 0  # most parts any class takes (kernel scratch size)

    def arrays(self) -> tuple[object, ...]:
        """The class arrays as the kernel takes them (`cl` in kernel.py)."""
        return (
            self.line_ptr,
            self.lines,
            self.mix_ptr,
            self.mixes,
            self.part_ptr,
            self.parts,
            self.qty,
            self.prev_rel,
            self.has_slots,
        )


def day_flags(cap: Capacity, line_ptr: I32, lines: I32) -> tuple[I32, npt.NDArray[np.bool_]]:
    """Per class: the latest day before each day on which one of its lines could work or
    was shut (prev_rel), and whether any of its lines has slots that day (has_slots)."""
    n, days = len(line_ptr) - 1, cap.days
    slotted = cap.slots > 0
    relevant_line = slotted | cap.shutdown
    has_slots = np.zeros((n, days), dtype=bool)
    relevant = np.zeros((n, days), dtype=bool)
    for k in range(n):
        mine = lines[line_ptr[k] : line_ptr[k + 1]]
        if len(mine):
            has_slots[k] = slotted[mine].any(axis=0)
            relevant[k] = relevant_line[mine].any(axis=0)
    idx = np.where(relevant, np.arange(days, dtype=np.int32), -1)
    prev_rel = np.full((n, days + 1), -1, dtype=np.int32)
    if days:
        prev_rel[:, 1:] = np.maximum.accumulate(idx, axis=1)
    return prev_rel, has_slots


def with_capacity(classes: Classes, cap: Capacity) -> Classes:
    """The same classes on other capacity (a Monte Carlo future)."""
    import dataclasses

    prev_rel, has_slots = day_flags(cap, classes.line_ptr, classes.lines)
    return dataclasses.replace(classes, prev_rel=prev_rel, has_slots=has_slots)


def build_classes(scenario: Scenario, cap: Capacity, configs: list[Config]) -> tuple[Classes, I32]:
    """Classes for these configurations, and the class of each configuration."""
    part_index = {n: i for i, n in enumerate(cap.part_names)}
    signature_of: dict[tuple[str, str, tuple[int, ...]], int] = {}
    config_class = np.empty(len(configs), dtype=np.int32)
    sigs: list[tuple[str, str, tuple[int, ...]]] = []
    for c, (model, variant, options) in enumerate(configs):
        opts = options_dict(options)
        mix = tuple(
            m
            for m, inst in enumerate(cap.mixes)
            if model in cap.line_models[inst.line] and matches(inst.match, model, variant, opts)
        )
        sig = (model, variant, mix)
        if sig not in signature_of:
            signature_of[sig] = len(sigs)
            sigs.append(sig)
        config_class[c] = signature_of[sig]

    n_lines = cap.slots.shape[0]
    line_ptr, lines, mix_ptr, mixes = [0], list[int](), [0], list[int]()
    part_ptr, parts, qty = [0], list[int](), list[int]()
    qty_dense = np.zeros((len(sigs), len(cap.part_names)), dtype=np.int64)
    mix_on = np.zeros((len(sigs), len(cap.mixes)), dtype=bool)
    for k, (model, variant, mix) in enumerate(sigs):
        for ln in range(n_lines):
            if model in cap.line_models[ln]:
                lines.append(ln)
                mixes.extend(m for m in mix if cap.mixes[m].line == ln)
                mix_ptr.append(len(mixes))
        line_ptr.append(len(lines))
        need = next(v for v in scenario.product(model).variants if v.name == variant).parts
        for name in cap.part_names:  # scenario order
            if name in need:
                parts.append(part_index[name])
                qty.append(need[name])
                qty_dense[k, part_index[name]] = need[name]
        part_ptr.append(len(parts))
        mix_on[k, list(mix)] = True

    prev_rel, has_slots = day_flags(
        cap, np.asarray(line_ptr, dtype=np.int32), np.asarray(lines, dtype=np.int32)
    )
    classes = Classes(
        models=tuple(s[0] for s in sigs),
        line_ptr=np.asarray(line_ptr, dtype=np.int32),
        lines=np.asarray(lines, dtype=np.int32),
        mix_ptr=np.asarray(mix_ptr, dtype=np.int32),
        mixes=np.asarray(mixes, dtype=np.int32),
        part_ptr=np.asarray(part_ptr, dtype=np.int32),
        parts=np.asarray(parts, dtype=np.int32),
        qty=np.asarray(qty, dtype=np.int64),
        qty_dense=qty_dense,
        mix_on=mix_on,
        prev_rel=prev_rel,
        has_slots=has_slots,
        max_parts=int(np.diff(np.asarray(part_ptr)).max(initial=0)),
    )
    return classes, config_class
