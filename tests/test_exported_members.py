"""The public face: every exported name exists, is documented, and nothing else leaks."""

from __future__ import annotations

import promiseline


def test_all_exports_exist_and_are_documented() -> None:
    """__all__ lists real, documented objects, in order."""
    assert promiseline.__all__ == sorted(promiseline.__all__, key=lambda n: (n[0].islower(), n))
    for name in promiseline.__all__:
        obj = getattr(promiseline, name)
        assert (obj.__doc__ or "").strip(), name


def test_api_verbs_return_their_objects(tiny, tiny_orders) -> None:  # type: ignore[no-untyped-def]
    """plan -> Plan, simulate -> Simulation, compare -> Comparison (one verb, one result)."""
    p = promiseline.plan(tiny, tiny_orders)
    assert isinstance(p, promiseline.Plan)
    sim = promiseline.simulate(
        tiny.replace(uncertainty={"uptime": {"mean": 0.9}}), p.book, futures=2
    )
    assert isinstance(sim, promiseline.Simulation)
    assert isinstance(promiseline.compare(tiny, [], p.book), promiseline.Comparison)
