"""The public face: every exported name exists, is documented, and nothing else leaks."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import promiseline
from promiseline import api

INTERNAL_API: dict[str, str] = {
    # name in api.py -> why it is deliberately not exported by `promiseline`
}


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
    assert isinstance(promiseline.compare(tiny, p.book, []), promiseline.Comparison)


def test_public_names_are_exactly_all() -> None:
    """The package's public attributes, submodules aside, are exactly __all__: none leaks,
    none is missing."""
    public = {
        name
        for name in dir(promiseline)
        if not name.startswith("_") and not isinstance(getattr(promiseline, name), types.ModuleType)
    }
    assert sorted(public - set(promiseline.__all__)) == []  # leaked
    assert sorted(set(promiseline.__all__) - public) == []  # listed, not there


def test_every_api_function_is_exported() -> None:
    """Each public function defined in api.py is exported by `promiseline` as that very
    function, unless INTERNAL_API lists it with a reason."""
    defined = {
        name
        for name, fn in inspect.getmembers(api, inspect.isfunction)
        if fn.__module__ == api.__name__ and not name.startswith("_")
    }
    assert sorted(set(INTERNAL_API) - defined) == []  # stale entries
    assert all(why.strip() for why in INTERNAL_API.values())
    assert sorted(defined - set(INTERNAL_API) - set(promiseline.__all__)) == []
    for name in defined - set(INTERNAL_API):
        assert getattr(promiseline, name) is getattr(api, name), name


def test_the_api_is_imported_on_first_use() -> None:
    """`import promiseline.service.jobs` in a job's fresh process loads no planner, study or
    solver (1.7 s of imports), and the first name used brings the API in."""
    code = (
        "import sys, promiseline.service.jobs, promiseline\n"
        "print('promiseline.api' in sys.modules, 'ortools' in sys.modules)\n"
        "promiseline.plan\n"
        "print('promiseline.api' in sys.modules)\n"
    )
    said = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert said.stdout.split() == ["False", "False", "True"]
