"""Shared fixtures: a tiny named scenario that is easy to reason about; the hypothesis
profiles (`quick` for `make test`, `full` for `make test-full`) and the store back-ends
each test runs on."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import settings

from promiseline.core.model.scenario import Scenario
from promiseline.io.scenario_file import load_scenario
from tests.store.conftest import pg_session_database  # noqa: F401 - db_url asks for it by name

DATA = Path(__file__).parent / "data"

# `full` keeps hypothesis' default of 100 examples and every test's own count; `quick` runs
# a fifth of each (see `examples`). HYPOTHESIS_PROFILE (or --hypothesis-profile) chooses.
settings.register_profile("full", max_examples=100)
settings.register_profile("quick", max_examples=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

FLOOR = 10  # the fewest examples a property runs under quick
# The tests that check against scoringrules, on one worker: importing it builds its numba
# kernels (half a minute each the first time in a fresh .venv, seconds after that).
SCORINGRULES = pytest.mark.xdist_group("scoringrules")


def examples(n: int) -> int:
    """A property's example count: n under the full profile, its share under quick (a
    fifth), never fewer than FLOOR. The quick counts caught every planner mutation tried but
    one, which a hand-made case in test_planner.py catches (see git log)."""
    share = n * settings.default.max_examples // 100
    return min(n, max(FLOOR, share))


# The store back-ends: SQLite for every test that opens a database; PostgreSQL too for
# those marked `both_stores`, whose path differs between store/sqlite.py and
# store/postgres.py (the store contract, locking, first starts, several writers).
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_stores") is not None
        backends = ["sqlite", "postgresql"] if both else ["sqlite"]
        metafunc.parametrize("db_url", backends, indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup` pytest-xdist tags each xdist_group test's id with its group
    (after which its scheduler keeps the group on one worker); should it ever stop doing so
    (pytest-xdist#1386), say so rather than split the browser tests silently."""
    if config.getoption("dist", "no") != "loadgroup" or "PYTEST_XDIST_WORKER" not in os.environ:
        return
    lost = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        raise pytest.UsageError(f"pytest-xdist did not group {lost[0]} (pytest-xdist#1386)")


@pytest.fixture
def tiny() -> Scenario:
    """One line of 3 cars a day (ramping), two parts, one mix limit, a shutdown, two markets."""
    return load_scenario(DATA / "tiny.yaml")


@pytest.fixture
def tiny_orders() -> pl.DataFrame:
    return pl.read_csv(DATA / "tiny_orders.csv", infer_schema=False)
