"""The embedded demo: the Beijing EV scenario and the order book of the YU7 launch.

SU7 sedans already wait in a backlog; at 22:00 on 2025-06-26 the YU7 SUV opens and about
240,000 orders lock within 18 hours, then a tail of new orders decays over the year.
Order volumes follow shared/public-figures.md; the mixes are assumptions.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import polars as pl

from promiseline.core.model.scenario import Scenario
from promiseline.core.model.surge import Demand, generate_orders
from promiseline.io.scenario_file import scenario_from_yaml

DEMO_SEED = 2025
MARKETS = {"CN-east": 0.35, "CN-south": 0.30, "CN-north": 0.20, "CN-west": 0.15}
PAINT = {"lava-orange": 0.15, "emerald-green": 0.20, "graphite-grey": 0.35, "black": 0.30}

DEMANDS = (
    # SU7 backlog: locked from March to launch day, waiting for phase 1 (assumed volume)
    Demand(
        model="SU7",
        opens_at=dt.datetime(2025, 3, 1),
        spike_orders=80_000,
        spike_hours=117 * 24,
        spike_shape=0.0,
        variant_mix={"Standard": 0.45, "Pro": 0.25, "Max": 0.28, "Ultra": 0.02},
        market_mix=MARKETS,
        option_mix={"paint": PAINT},
        id_prefix="SU7B",
    ),
    # SU7 orders keep coming after the YU7 launch, slowly fewer
    Demand(
        model="SU7",
        opens_at=dt.datetime(2025, 6, 26),
        spike_orders=0,
        spike_hours=0.0,
        tail_per_day=650.0,
        tail_half_life_days=240.0,
        tail_days=365,
        variant_mix={"Standard": 0.45, "Pro": 0.25, "Max": 0.28, "Ultra": 0.02},
        market_mix=MARKETS,
        option_mix={"paint": PAINT},
    ),
    # YU7 launch: > 240,000 locked within 18 hours, then a decaying tail
    Demand(
        model="YU7",
        opens_at=dt.datetime(2025, 6, 26, 22, 0),
        spike_orders=240_000,
        spike_hours=18.0,
        spike_shape=4.0,
        tail_per_day=900.0,
        tail_half_life_days=45.0,
        tail_days=365,
        variant_mix={"Standard": 0.25, "Pro": 0.35, "Max": 0.40},
        market_mix=MARKETS,
        option_mix={"paint": PAINT, "wheels": {"20in": 0.6, "21in": 0.4}},
    ),
    # Europe: YU7 orders locked from the spring of 2026 for delivery once export opens in
    # 2027 (assumed volume); they queue with the home orders locked at the same time
    Demand(
        model="YU7",
        opens_at=dt.datetime(2026, 3, 2, 10, 0),
        spike_orders=6_000,
        spike_hours=30 * 24,
        spike_shape=0.0,
        tail_per_day=30.0,
        tail_half_life_days=180.0,
        tail_days=120,  # the book ends in June 2026, like the home tails: none locked later
        variant_mix={"Pro": 0.4, "Max": 0.6},
        market_mix={"DE": 0.7, "NO": 0.3},
        option_mix={"paint": PAINT, "wheels": {"20in": 0.5, "21in": 0.5}},
        id_prefix="EU",
    ),
)


def demo_yaml() -> str:
    """The embedded Beijing EV scenario's YAML text."""
    return resources.files("promiseline.data").joinpath("beijing-ev.yaml").read_text("utf-8")


def demo_scenario() -> Scenario:
    """The embedded Beijing EV scenario."""
    return scenario_from_yaml(demo_yaml(), "beijing-ev.yaml (embedded)")


def demo_output_history() -> Path:
    """The demo's daily output history (date, line, built): phase 1's line from October
    2024 to the day before the launch, its quarters summing to the public delivery figures
    (made by scripts/demo_output_history.py; README, "Fitting the uncertainty")."""
    return Path(str(resources.files("promiseline.data").joinpath("beijing-ev-output.csv")))


def demo_orders(seed: int = DEMO_SEED) -> pl.DataFrame:
    """The demo order book: SU7 backlog and tail, YU7 launch surge and tail, and the YU7
    orders from Europe (generated last, so the home orders are the same as before)."""
    return generate_orders(DEMANDS, seed)
